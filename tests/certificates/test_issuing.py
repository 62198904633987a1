"""Officers issue, revoke and reissue certificates of their own department's types."""

import threading

from sqlalchemy import func, select

from backend.extensions import db
from backend.models import Certificate, Notification, Person
from backend.services.accounts import find_person
from backend.services.certificate_store import serial_is_valid, verify_certificate
from tests.certificates.helpers import (
    citizen_with,
    company_body,
    company_type,
    issue_body,
    officer_of,
    person_type,
)
from tests.factories import create_department, create_user, error_of, valid_id_number


def test_an_officer_issues_a_sealed_certificate_that_verifies(api):
    cert_type = person_type()
    token = api.login(officer_of(cert_type.department))
    id_number = valid_id_number()
    response = api.post(
        "/certificates",
        token=token,
        json=issue_body(cert_type, id_number, paper_issued_at="2024-03-01T09:30:00"),
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["verified"] is True and body["status"] == "valid"
    assert serial_is_valid(body["serial"])
    assert body["serial"].startswith(cert_type.department.code.upper() + "-")
    assert body["seals"][0]["key_id"] and body["seals"][0]["verified"] is True
    assert body["paper_issued_at"] == "2024-03-01T09:30:00+08:00"
    assert body["electronic_issued_at"] is not None
    # The officer's copy masks the holder's ID number everywhere.
    assert body["holder"]["id_number"] != id_number and "*" in body["holder"]["id_number"]
    values = {f["name"]: f["value"] for f in body["fields"]}
    assert values["公民身份号码"] != id_number
    certificate = db.session.get(Certificate, body["id"])
    assert verify_certificate(certificate).ok
    assert find_person(id_number).name == "王小明"


def test_a_company_certificate_is_issued_to_a_company_found_by_credit_code(api):
    cert_type = company_type()
    token = api.login(officer_of(cert_type.department))
    bad_code = "91330106MA2B7XXX0X"
    first = api.post("/certificates", token=token, json=company_body(cert_type, bad_code))
    assert error_of(first)["code"] == "invalid_credit_code"
    body = company_body(cert_type)
    response = api.post("/certificates", token=token, json=body)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["holder"]["credit_code"] == body["holder"]["credit_code"]


def test_schema_errors_are_422_naming_every_field(api):
    cert_type = person_type()
    token = api.login(officer_of(cert_type.department))
    body = issue_body(cert_type)
    body["fields"].update({"出生日期": "1990-02-30", "性别": "其他", "鞋码": "42"})
    del body["fields"]["姓名"]
    body["holder"]["id_number"] = "110101199003071230"
    response = api.post("/certificates", token=token, json=body)
    assert response.status_code == 422
    error = error_of(response)
    assert {(d["field"], d["code"]) for d in error["details"]} == {
        ("holder.id_number", "invalid_id_number"),
        ("姓名", "missing_field"),
        ("出生日期", "invalid_date"),
        ("性别", "invalid_option"),
        ("鞋码", "unknown_field"),
    }
    assert error["code"] == error["details"][0]["code"]
    assert db.session.scalar(select(func.count(Certificate.id))) == 0
    assert db.session.scalar(select(func.count(Person.id))) == 0


def test_dates_must_exist_expiry_must_follow_issue_and_fields_must_match_the_holder(api):
    cert_type = person_type()
    token = api.login(officer_of(cert_type.department))
    body = issue_body(cert_type, issued_on="2024-02-30", expires_on="2023-01-01")
    body["paper_issued_at"] = "yesterday"
    response = api.post("/certificates", token=token, json=body)
    assert {(d["field"], d["code"]) for d in error_of(response)["details"]} == {
        ("issued_on", "invalid_date"),
        ("paper_issued_at", "invalid_datetime"),
    }
    body = issue_body(cert_type, expires_on="2024-01-01")
    response = api.post("/certificates", token=token, json=body)
    assert error_of(response)["code"] == "expiry_before_issue"
    body = issue_body(cert_type)
    body["fields"]["公民身份号码"] = valid_id_number()
    response = api.post("/certificates", token=token, json=body)
    assert (error_of(response)["code"], error_of(response)["field"]) == (
        "holder_mismatch",
        "公民身份号码",
    )


def test_a_person_type_refuses_a_company_holder(api):
    cert_type = person_type()
    token = api.login(officer_of(cert_type.department))
    body = issue_body(cert_type)
    body["holder"]["credit_code"] = "91330106000000001X"
    response = api.post("/certificates", token=token, json=body)
    assert response.status_code == 422
    assert error_of(response)["code"] == "holder_kind_mismatch"


def test_a_name_that_does_not_match_a_known_id_number_is_refused(api):
    cert_type = person_type()
    id_number = valid_id_number()
    citizen_with(id_number, name="李四")
    token = api.login(officer_of(cert_type.department))
    response = api.post("/certificates", token=token, json=issue_body(cert_type, id_number))
    assert response.status_code == 422
    assert error_of(response)["code"] == "identity_mismatch"


def test_only_officers_of_the_issuing_department_issue(api):
    cert_type = person_type()
    other_officer = api.login(officer_of(create_department()))
    response = api.post("/certificates", token=other_officer, json=issue_body(cert_type))
    assert response.status_code == 403 and error_of(response)["code"] == "forbidden"
    citizen = api.login(create_user())
    response = api.post("/certificates", token=citizen, json=issue_body(cert_type))
    assert response.status_code == 403 and error_of(response)["code"] == "forbidden"
    response = api.post("/certificates", json=issue_body(cert_type))
    assert response.status_code == 401


def test_an_unknown_type_is_404(api):
    cert_type = person_type()
    token = api.login(officer_of(cert_type.department))
    body = issue_body(cert_type, type="no_such_type")
    response = api.post("/certificates", token=token, json=body)
    assert response.status_code == 404
    assert error_of(response)["code"] == "certificate_type_not_found"


def _issue(api, token, cert_type, **extra):
    response = api.post("/certificates", token=token, json=issue_body(cert_type, **extra))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_revoking_records_the_reason_tells_the_holder_and_cannot_happen_twice(api):
    cert_type = person_type()
    token = api.login(officer_of(cert_type.department))
    id_number = valid_id_number()
    holder = citizen_with(id_number)
    issued = _issue(api, token, cert_type, id_number=id_number)
    response = api.post(
        f"/certificates/{issued['id']}/revoke", token=token, json={"reason": "骗取登记"}
    )
    assert response.status_code == 200
    assert response.get_json()["status"] == "revoked"
    assert response.get_json()["revocation_reason"] == "骗取登记"
    inbox = db.session.scalars(select(Notification).where(Notification.user_id == holder.id))
    assert [n.title for n in inbox] == ["电子证照已吊销"]
    again = api.post(f"/certificates/{issued['id']}/revoke", token=token, json={"reason": "x"})
    assert again.status_code == 409
    assert error_of(again)["code"] == "invalid_state"
    assert error_of(again)["current_state"] == "revoked"


def test_only_officers_of_the_issuing_department_revoke(api):
    cert_type = person_type()
    issued = _issue(api, api.login(officer_of(cert_type.department)), cert_type)
    other = api.login(officer_of(create_department()))
    response = api.post(f"/certificates/{issued['id']}/revoke", token=other, json={"reason": "x"})
    assert response.status_code == 403 and error_of(response)["code"] == "forbidden"
    response = api.post("/certificates/999999/revoke", token=other, json={"reason": "x"})
    assert response.status_code == 404


def test_two_revocations_at_once_only_one_wins(app, api):
    cert_type = person_type()
    officer = officer_of(cert_type.department)
    token = api.login(officer)
    issued = _issue(api, token, cert_type)
    barrier = threading.Barrier(2)
    statuses = []

    def revoke():
        client = app.test_client()
        barrier.wait()
        response = client.post(
            f"/api/mp/v1/certificates/{issued['id']}/revoke",
            json={"reason": "并发吊销"},
            headers={"Authorization": f"Bearer {token}"},
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=revoke) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 409]


def test_reissuing_creates_a_new_version_that_supersedes_the_old(api):
    cert_type = person_type()
    token = api.login(officer_of(cert_type.department))
    old = _issue(api, token, cert_type)
    response = api.post(
        f"/certificates/{old['id']}/reissue", token=token, json={"fields": {"备注": "更正"}}
    )
    assert response.status_code == 201, response.get_json()
    new = response.get_json()
    assert new["version"] == 2 and new["supersedes_id"] == old["id"]
    assert new["serial"] != old["serial"] and new["verified"] is True
    assert {f["name"]: f["value"] for f in new["fields"]}["备注"] == "更正"
    assert new["issued_on"] == old["issued_on"]
    assert db.session.get(Certificate, old["id"]).status == "superseded"
    # The old version still verifies as sealed, but is no longer the valid one.
    assert verify_certificate(db.session.get(Certificate, old["id"])).ok
    again = api.post(f"/certificates/{old['id']}/reissue", token=token, json={})
    assert again.status_code == 409 and error_of(again)["current_state"] == "superseded"


def test_a_reissue_with_bad_fields_changes_nothing(api):
    cert_type = person_type()
    token = api.login(officer_of(cert_type.department))
    old = _issue(api, token, cert_type)
    response = api.post(
        f"/certificates/{old['id']}/reissue",
        token=token,
        json={"fields": {"性别": "未知", "姓名": None}},
    )
    assert response.status_code == 422
    assert {d["field"] for d in error_of(response)["details"]} == {"性别", "姓名"}
    assert db.session.get(Certificate, old["id"]).status == "valid"
    assert db.session.scalar(select(func.count(Certificate.id))) == 1


def test_a_holder_name_longer_than_a_person_record_allows_is_named(api):
    cert_type = person_type()
    token = api.login(officer_of(cert_type.department))
    body = issue_body(cert_type, name="王" * 51)
    body["fields"]["姓名"] = "王小明"
    response = api.post("/certificates", token=token, json=body)
    assert response.status_code == 422
    assert (error_of(response)["field"], error_of(response)["code"]) == (
        "holder.name",
        "value_too_long",
    )


def test_a_text_field_that_repeats_the_holders_id_number_is_masked_for_the_officer(api):
    from tests.factories import create_certificate_type

    cert_type = create_certificate_type(
        fields=[
            {"name": "姓名", "type": "text", "required": True, "max_length": 50},
            {"name": "证号", "type": "text", "required": True, "max_length": 50},
        ]
    )
    token = api.login(officer_of(cert_type.department))
    id_number = valid_id_number()
    body = {
        "type": cert_type.code,
        "holder": {"name": "王小明", "id_number": id_number},
        "fields": {"姓名": "王小明", "证号": id_number},
    }
    response = api.post("/certificates", token=token, json=body)
    assert response.status_code == 201, response.get_json()
    assert id_number not in response.get_data(as_text=True)
