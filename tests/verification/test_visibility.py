"""Who sees which request, how much of it, and ID numbers masked to all but the subject."""

from __future__ import annotations

import pytest

from backend.models import Role
from backend.security.crypto import mask_id_number
from backend.services import verification as service
from backend.services.accounts import person_id_number
from tests.factories import create_user, create_verifier_member, error_of
from tests.verification.factories import bring_to, create_route, submit

# viewer -> how they see a request about world.citizen from world.asking to world.answering
PERSON_REQUEST_VIEWERS = {
    "requester": "staff",
    "colleague": "staff",
    "responder": "staff",
    "supervisor": "staff",
    "citizen": "subject",
    "outsider": None,
    "other_citizen": None,
    "representative": None,
    "admin": None,
    "verifier": None,
}


def _viewer(world, name):
    if name == "verifier":
        return create_verifier_member()
    return getattr(world, name)


@pytest.mark.parametrize("name, seen_as", PERSON_REQUEST_VIEWERS.items())
def test_the_detail_is_shown_to_the_parties_and_refused_to_everyone_else(api, world, name, seen_as):
    request = bring_to(world, "accepted")
    response = api.get(
        f"/verification-requests/{request.id}", token=api.login(_viewer(world, name))
    )
    if seen_as is None:
        assert response.status_code == 403
        assert error_of(response)["code"] == "forbidden"
    else:
        assert response.status_code == 200
        assert response.get_json()["id"] == request.id


@pytest.mark.parametrize("name, seen_as", PERSON_REQUEST_VIEWERS.items())
def test_the_list_holds_only_what_the_viewer_may_see(api, world, name, seen_as):
    about_citizen = submit(world)
    about_other = submit(world, about=world.other_citizen)
    about_company = submit(world, route=world.company_route)
    response = api.get("/verification-requests", token=api.login(_viewer(world, name)))
    assert response.status_code == 200
    ids = {r["id"] for r in response.get_json()["items"]}
    everything = {about_citizen.id, about_other.id, about_company.id}
    expected = {
        "staff": everything,
        "subject": {about_citizen.id},
        None: set(),
    }[seen_as]
    if name == "other_citizen":
        expected = {about_other.id}
    if name == "representative":
        expected = {about_company.id}
    assert ids == expected
    assert response.get_json()["total"] == len(expected)


def test_company_requests_are_seen_by_its_representatives_only(api, world):
    request = submit(world, route=world.company_route)
    mine = api.get(f"/verification-requests/{request.id}", token=api.login(world.representative))
    assert mine.status_code == 200
    assert mine.get_json()["subject"] == {
        "kind": "company",
        "name": world.company.name,
        "credit_code": world.company.credit_code,
    }
    other = api.get(
        f"/verification-requests/{request.id}", token=api.login(world.other_representative)
    )
    assert other.status_code == 403


def test_the_id_number_is_shown_in_full_to_the_subject_only(api, world):
    request = submit(world)
    number = person_id_number(world.citizen.person)
    for name in ("requester", "responder", "supervisor"):
        body = api.get(
            f"/verification-requests/{request.id}", token=api.login(getattr(world, name))
        ).get_json()
        assert body["subject"]["id_number"] == mask_id_number(number)
    own = api.get(f"/verification-requests/{request.id}", token=api.login(world.citizen))
    assert own.get_json()["subject"]["id_number"] == number
    listed = api.get("/verification-requests", token=api.login(world.requester))
    assert number not in listed.get_data(as_text=True)


def test_the_citizen_follows_the_timeline_without_internal_notes_or_officer_names(api, world):
    request = submit(world)
    service.accept_request(
        request.id, world.responder, note="已受理", internal_note="需调阅体检系统,注意核对"
    )
    service.answer_request(
        request.id,
        world.responder,
        result="confirmed",
        answer="经核实,持有有效健康证明。",
        internal_note="体检记录编号 HZ-2026-0001",
    )
    listed = api.get("/verification-requests", token=api.login(world.citizen)).get_json()
    timeline = listed["items"][0]["timeline"]
    assert [(e["kind"], e["state"], e["note"]) for e in timeline] == [
        ("submitted", "submitted", None),
        ("accepted", "accepted", "已受理"),
        ("answered", "answered", None),
    ]
    assert [e["actor"]["department"] for e in timeline] == [
        "市市场监督管理局",
        "市卫生健康委员会",
        "市卫生健康委员会",
    ]
    assert all("name" not in e["actor"] for e in timeline)
    text = api.get(f"/verification-requests/{request.id}", token=api.login(world.citizen))
    assert "需调阅体检系统" not in text.get_data(as_text=True)
    assert "HZ-2026-0001" not in text.get_data(as_text=True)
    assert listed["items"][0]["answer"]["text"] == "经核实,持有有效健康证明。"
    assert listed["items"][0]["actions"] == []
    staff = api.get(f"/verification-requests/{request.id}", token=api.login(world.requester))
    internal = [e["note"] for e in staff.get_json()["timeline"] if e["internal"]]
    assert internal == ["需调阅体检系统,注意核对", "体检记录编号 HZ-2026-0001"]


def test_officers_filter_by_side_state_and_overdue(api, world):
    overdue = bring_to(world, "overdue", question="逾期的问题")
    asked = submit(world)
    licence_route = create_route("licence_check", "营业执照登记情况证明", world.asking, "company")
    asked_of_us = submit(
        world,
        route=licence_route,
        requesting_department_id=world.bystander.id,
        requested_by_id=world.outsider.id,
    )
    token = api.login(world.requester)
    requesting = api.get("/verification-requests?side=requesting", token=token).get_json()
    assert {r["id"] for r in requesting["items"]} == {asked.id, overdue.id}
    responding = api.get("/verification-requests?side=responding", token=token).get_json()
    assert [r["id"] for r in responding["items"]] == [asked_of_us.id]
    assert responding["items"][0]["actions"] == ["accept", "reject"]
    by_state = api.get("/verification-requests?state=overdue", token=token).get_json()
    assert [r["id"] for r in by_state["items"]] == [overdue.id]
    flagged = api.get("/verification-requests?overdue=true", token=token).get_json()
    assert [r["id"] for r in flagged["items"]] == [overdue.id]
    not_flagged = api.get("/verification-requests?overdue=false", token=token).get_json()
    assert {r["id"] for r in not_flagged["items"]} == {asked.id, asked_of_us.id}


def test_the_list_pages_newest_first(api, world):
    ids = [submit(world, question=f"问题 {n}").id for n in range(3)]
    token = api.login(world.supervisor)
    first = api.get("/verification-requests?per_page=2", token=token).get_json()
    second = api.get("/verification-requests?per_page=2&page=2", token=token).get_json()
    assert [r["id"] for r in first["items"]] == [ids[2], ids[1]]
    assert [r["id"] for r in second["items"]] == [ids[0]]
    assert first["total"] == 3
    bad = api.get("/verification-requests?per_page=500", token=token)
    assert bad.status_code == 400 and error_of(bad)["field"] == "per_page"


def test_a_citizen_without_real_name_binding_sees_an_empty_list(api, world):
    submit(world)
    unbound = create_user(Role.CITIZEN, person_id=None)
    response = api.get("/verification-requests", token=api.login(unbound))
    assert response.get_json() == {"items": [], "total": 0, "page": 1, "per_page": 20}


def test_listing_needs_a_login(api):
    assert api.get("/verification-requests").status_code == 401
