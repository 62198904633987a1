"""Who saw what: usage records for holders and verifiers, reports, supervision figures."""

from __future__ import annotations

from backend.models import Role
from tests.codes.conftest import scan, show_ok
from tests.factories import create_user, create_verifier_member, error_of


def _scan_id_card(api, world, purpose="入住登记") -> None:
    code = show_ok(api, world.citizen_token, [world.id_card.id, world.marriage.id])
    assert scan(api, world.member_token, code["qr_content"], purpose).status_code == 200


def test_the_holder_sees_who_saw_which_fields_of_which_certificate_and_why(api, world):
    _scan_id_card(api, world)
    page = api.get("/usage-records", token=world.citizen_token).get_json()
    assert page["total"] == 2
    by_result = {item["result"]: item for item in page["items"]}
    seen = by_result["ok"]
    assert seen["organisation"]["name"] == "西湖宾馆"
    assert seen["certificate"]["type"]["code"] == "id_card"
    assert seen["certificate"]["serial"] == world.id_card.serial
    assert seen["fields_disclosed"] == ["姓名", "公民身份号码"]
    assert seen["purpose"] == "入住登记" and seen["scanned_at"].endswith("+08:00")
    assert by_result["out_of_scope"]["fields_disclosed"] == []
    assert "member" not in seen


def test_the_verifier_sees_its_organisation_scans_with_the_holder_name_masked(api, world):
    _scan_id_card(api, world)
    colleague = api.login(create_verifier_member(world.hotel))
    page = api.get("/usage-records", token=colleague).get_json()
    assert page["total"] == 2
    item = page["items"][0]
    assert item["member"]["name"] == "前台小王"
    name = world.citizen.person.name
    assert item["holder_name"] == name[0] + "*" * (len(name) - 1)
    stranger = api.login(create_verifier_member())
    assert api.get("/usage-records", token=stranger).get_json()["total"] == 0


def test_another_holder_sees_none_of_my_records(api, world):
    _scan_id_card(api, world)
    other = api.login(create_user())
    assert api.get("/usage-records", token=other).get_json()["items"] == []


def test_records_are_paged_and_filtered_by_certificate(api, world):
    _scan_id_card(api, world)
    _scan_id_card(api, world, purpose="退房")
    page = api.get("/usage-records?per_page=3&page=1", token=world.citizen_token).get_json()
    assert (page["total"], len(page["items"])) == (4, 3)
    assert page["items"][0]["purpose"] == "退房"
    only = api.get(
        f"/usage-records?certificate_id={world.id_card.id}", token=world.citizen_token
    ).get_json()
    assert only["total"] == 2
    bad = api.get("/usage-records?per_page=500", token=world.citizen_token)
    assert bad.status_code == 400 and error_of(bad)["field"] == "per_page"


def test_the_holder_reports_a_suspicious_use_once_and_the_supervisor_sees_it(
    api, world, supervisor_token
):
    _scan_id_card(api, world)
    record_id = api.get("/usage-records", token=world.citizen_token).get_json()["items"][0]["id"]
    path = f"/usage-records/{record_id}/report"
    reported = api.post(path, token=world.citizen_token, json={"reason": "我当天没有去过该宾馆"})
    assert reported.status_code == 200
    assert reported.get_json()["reported"]["reason"] == "我当天没有去过该宾馆"
    again = api.post(path, token=world.citizen_token, json={"reason": "再次举报"})
    assert again.status_code == 409 and error_of(again)["code"] == "already_reported"

    listed = api.get("/usage-records?reported=true", token=supervisor_token).get_json()
    assert [item["id"] for item in listed["items"]] == [record_id]
    assert listed["items"][0]["reported"]["reason"] == "我当天没有去过该宾馆"


def test_only_the_holder_can_report_a_record(api, world):
    _scan_id_card(api, world)
    record_id = api.get("/usage-records", token=world.citizen_token).get_json()["items"][0]["id"]
    path = f"/usage-records/{record_id}/report"
    other = api.login(create_user())
    response = api.post(path, token=other, json={"reason": "不是我"})
    assert response.status_code == 404
    assert error_of(response)["code"] == "usage_record_not_found"
    assert api.post(path, token=world.member_token, json={"reason": "x"}).status_code == 403
    empty = api.post(path, token=world.citizen_token, json={"reason": ""})
    assert empty.status_code == 400 and error_of(empty)["field"] == "reason"


def test_the_supervisor_gets_usage_of_the_most_used_types_per_department(
    api, world, supervisor_token
):
    _scan_id_card(api, world)
    _scan_id_card(api, world)
    figures = api.get("/supervision/usage", token=supervisor_token).get_json()
    assert figures["total"] == 2  # successful uses only; refused attempts are not uses
    assert len(figures["types"]) == 50
    top = figures["types"][0]
    assert (top["code"], top["uses"], top["rank"]) == ("id_card", 2, 1)
    assert top["department"]["name"] == "市公安局"
    assert figures["departments"] == [{"code": "psb", "name": "市公安局", "uses": 2}]
    later = api.get("/supervision/usage?since=2199-01-01", token=supervisor_token).get_json()
    assert later["total"] == 0
    bad = api.get("/supervision/usage?since=yesterday", token=supervisor_token)
    assert bad.status_code == 400 and error_of(bad)["field"] == "since"


def test_usage_figures_are_for_the_supervisor_only(api, world):
    assert api.get("/supervision/usage", token=world.citizen_token).status_code == 403
    officer = api.login(create_user(Role.DEPARTMENT_OFFICER))
    assert api.get("/usage-records", token=officer).status_code == 403
