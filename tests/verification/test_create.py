"""Creating a verification request: input checks naming the field, deadlines, notifications."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text

from backend import clock
from backend.errors import Forbidden
from backend.extensions import db
from backend.models import Notification, Person, Role
from backend.models.verification import VerificationRequest
from backend.services import accounts
from backend.services import verification as service
from backend.services.accounts import person_id_number
from tests.factories import create_user, error_of, valid_credit_code, valid_id_number
from tests.verification.factories import QUESTION, bring_to, submit


def _body(world, **overrides):
    body = {
        "subject": {
            "name": world.citizen.person.name,
            "id_number": person_id_number(world.citizen.person),
        },
        "proof_type": "practitioner_health_proof",
        "question": QUESTION,
        "purpose": "食品经营许可申请",
        "legal_basis": "《中华人民共和国食品安全法》第四十五条",
    }
    body.update(overrides)
    return body


def _create(api, world, **overrides):
    return api.post(
        "/verification-requests", json=_body(world, **overrides), token=api.login(world.requester)
    )


def test_an_officer_creates_a_request_routed_to_the_issuing_department(api, world, monday):
    response = _create(api, world)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["state"] == "submitted"
    assert body["responding_department"]["name"] == "市卫生健康委员会"
    assert body["requesting_department"]["name"] == "市市场监督管理局"
    assert body["proof_type"] == {
        "code": "practitioner_health_proof",
        "name": "从业人员健康合格证明",
    }
    # Monday + 3 working days: end of Thursday, local time.
    assert body["deadline"] == "2026-03-05T23:59:59+08:00"
    assert [e["kind"] for e in body["timeline"]] == ["submitted"]


def test_the_proof_type_may_be_given_by_its_name(api, world):
    response = _create(api, world, proof_type="从业人员健康合格证明")
    assert response.status_code == 201
    assert response.get_json()["proof_type"]["code"] == "practitioner_health_proof"


def test_a_friday_request_is_due_after_the_weekend(world):
    with clock.frozen(datetime(2026, 3, 6, 16, 0, tzinfo=clock.SHANGHAI)):
        request = submit(world)
    assert clock.to_local(request.deadline) == "2026-03-11T23:59:59+08:00"


def test_configured_holidays_are_not_working_days(app, world, monkeypatch):
    monkeypatch.setitem(app.config, "VERIFICATION_HOLIDAYS", "2026-03-03, 2026-03-04")
    with clock.frozen(datetime(2026, 3, 2, 9, 0, tzinfo=clock.SHANGHAI)):
        request = submit(world)
    assert clock.to_local(request.deadline) == "2026-03-09T23:59:59+08:00"


def test_a_route_configures_its_own_number_of_working_days(world, monday):
    world.person_route.deadline_working_days = 10
    db.session.commit()
    request = submit(world)
    assert clock.to_local(request.deadline) == "2026-03-16T23:59:59+08:00"


def test_an_explicit_deadline_is_the_end_of_that_day_and_may_not_be_past(api, world, monday):
    response = _create(api, world, deadline="2026-03-20")
    assert response.get_json()["deadline"] == "2026-03-20T23:59:59+08:00"
    past = _create(api, world, deadline="2026-03-01")
    assert past.status_code == 422
    assert error_of(past)["code"] == "invalid_deadline"
    assert error_of(past)["field"] == "deadline"
    malformed = _create(api, world, deadline="20 March")
    assert malformed.status_code == 400 and error_of(malformed)["field"] == "deadline"


def test_a_wrong_id_number_check_digit_is_422_naming_the_field(api, world):
    good = person_id_number(world.citizen.person)
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    response = _create(api, world, subject={"name": "王小明", "id_number": bad})
    assert response.status_code == 422
    assert error_of(response)["code"] == "invalid_id_number"
    assert error_of(response)["field"] == "subject.id_number"


def test_a_wrong_credit_code_is_422_naming_the_field(api, world):
    good = valid_credit_code()
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    response = _create(
        api,
        world,
        proof_type="public_hygiene_check",
        subject={"name": "某公司", "credit_code": bad},
    )
    assert response.status_code == 422
    assert error_of(response)["code"] == "invalid_credit_code"
    assert error_of(response)["field"] == "subject.credit_code"


def test_an_unknown_or_inactive_proof_type_is_422(api, world):
    unknown = _create(api, world, proof_type="不存在的证明")
    assert unknown.status_code == 422
    assert error_of(unknown)["code"] == "unknown_proof_type"
    assert error_of(unknown)["field"] == "proof_type"
    world.person_route.active = False
    db.session.commit()
    inactive = _create(api, world)
    assert inactive.status_code == 422 and error_of(inactive)["code"] == "unknown_proof_type"


@pytest.mark.parametrize(
    "subject, code, field",
    [
        ({"name": "王小明"}, "invalid_subject", "subject"),
        (
            {
                "name": "王小明",
                "id_number": valid_id_number(7),
                "credit_code": valid_credit_code(7),
            },
            "invalid_subject",
            "subject",
        ),
        (
            {"name": "某公司", "credit_code": valid_credit_code(8)},
            "subject_kind_mismatch",
            "subject.id_number",
        ),
    ],
)
def test_the_subject_must_be_one_citizen_or_one_company_of_the_right_kind(
    api, world, subject, code, field
):
    response = _create(api, world, subject=subject)
    assert response.status_code == 422
    assert error_of(response)["code"] == code
    assert error_of(response)["field"] == field


def test_a_name_that_does_not_match_the_id_number_is_refused(api, world):
    response = _create(
        api,
        world,
        subject={"name": "李四", "id_number": person_id_number(world.citizen.person)},
    )
    assert response.status_code == 422
    assert error_of(response)["code"] == "identity_mismatch"
    assert error_of(response)["field"] == "subject.name"


def test_a_new_subjects_name_longer_than_a_persons_is_422_naming_it(api, world):
    """The schema admits a company's 200 characters; a person's name has 50."""
    subject = {"name": "张" * 51, "id_number": valid_id_number()}
    response = _create(api, world, subject=subject)
    assert response.status_code == 422, response.get_json()
    assert (error_of(response)["code"], error_of(response)["field"]) == (
        "value_too_long",
        "subject.name",
    )
    assert db.session.scalar(select(VerificationRequest.id)) is None


def test_missing_and_unknown_fields_are_named(api, world):
    body = _body(world)
    del body["legal_basis"]
    body["priority"] = "high"
    response = api.post("/verification-requests", json=body, token=api.login(world.requester))
    assert response.status_code == 400
    fields = {(d["field"], d["code"]) for d in error_of(response)["details"]}
    assert fields == {("legal_basis", "missing_field"), ("priority", "unknown_field")}
    blank = _create(api, world, purpose="   ")
    assert blank.status_code == 400 and error_of(blank)["field"] == "purpose"


def test_an_office_does_not_ask_itself(api, world):
    response = api.post(
        "/verification-requests", json=_body(world), token=api.login(world.responder)
    )
    assert response.status_code == 422
    assert error_of(response)["code"] == "same_department"


@pytest.mark.parametrize("who", ["citizen", "supervisor", "admin"])
def test_only_department_officers_create_requests(api, world, who):
    response = api.post(
        "/verification-requests", json=_body(world), token=api.login(getattr(world, who))
    )
    assert response.status_code == 403


def test_an_officer_without_a_department_cannot_ask(api, world):
    officer = create_user(Role.DEPARTMENT_OFFICER)
    response = api.post("/verification-requests", json=_body(world), token=api.login(officer))
    assert response.status_code == 403
    assert error_of(response)["code"] == "no_department"


def test_nothing_is_written_when_a_request_is_refused(api, world):
    count = db.session.scalar(select(db.func.count(VerificationRequest.id)))
    persons = db.session.scalar(select(db.func.count(Person.id)))
    _create(
        api,
        world,
        subject={"name": "新市民", "id_number": valid_id_number(9)},
        deadline="2000-01-01",
    )
    assert db.session.scalar(select(db.func.count(VerificationRequest.id))) == count
    assert db.session.scalar(select(db.func.count(Person.id))) == persons


def test_submitting_notifies_the_responding_officers_and_the_subject(api, world):
    response = _create(api, world)
    request_id = response.get_json()["id"]
    notes = db.session.scalars(select(Notification).order_by(Notification.id)).all()
    by_user = {n.user_id: n for n in notes}
    assert set(by_user) == {world.responder.id, world.citizen.id}
    assert by_user[world.responder.id].title == "新的部门协查请求"
    assert "无需自行开具证明" in by_user[world.citizen.id].body
    assert all(n.category == "verification" for n in notes)
    assert all(n.link == f"/verification-requests/{request_id}" for n in notes)


def test_every_later_step_notifies_the_parties(world):
    request = bring_to(world, "accepted")
    accepted = db.session.scalars(
        select(Notification.user_id).where(Notification.title == "协查请求已受理")
    ).all()
    assert sorted(accepted) == sorted([world.requester.id, world.citizen.id])
    service.reject_request(request.id, world.responder, "材料不全")
    rejected = db.session.scalars(
        select(Notification).where(Notification.title == "协查请求被退回")
    ).all()
    assert {n.user_id for n in rejected} == {world.requester.id, world.citizen.id}
    assert all("材料不全" in n.body for n in rejected)
    other = submit(world, question="该人员是否持有健康证明(第二次)")
    service.withdraw_request(other.id, world.requester)
    withdrawn = db.session.scalars(
        select(Notification.user_id).where(Notification.title == "协查请求已撤回")
    ).all()
    assert sorted(withdrawn) == sorted([world.responder.id, world.citizen.id])
    answered = bring_to(world, "answered", question="该人员是否持有健康证明(第三次)")
    told = db.session.scalars(
        select(Notification.user_id).where(
            Notification.title == "协查请求已答复",
            Notification.link == f"/verification-requests/{answered.id}",
        )
    ).all()
    assert sorted(told) == sorted([world.requester.id, world.citizen.id])


def test_a_company_request_notifies_its_representatives(world):
    submit(world, route=world.company_route)
    told = db.session.scalars(
        select(Notification.user_id).where(Notification.title == "部门协查已发起")
    ).all()
    assert told == [world.representative.id]


def test_a_citizen_not_yet_on_the_platform_sees_the_request_after_binding(api, world):
    id_number = valid_id_number(4242)
    request = submit(world, about=world.citizen, subject_name="陈新", subject_id_number=id_number)
    newcomer = create_user(Role.CITIZEN, person_id=None)
    accounts.bind_real_name(newcomer, "陈新", id_number, "13911112222")
    response = api.get("/verification-requests", token=api.login(newcomer))
    assert [r["id"] for r in response.get_json()["items"]] == [request.id]
    assert response.get_json()["items"][0]["subject"]["id_number"] == id_number


def test_no_plain_id_number_is_stored_with_a_request(world):
    id_number = person_id_number(world.citizen.person)
    bring_to(world, "answered")
    for table in ("verification_requests", "verification_events"):
        rows = db.session.execute(text(f"SELECT * FROM {table}")).fetchall()
        assert id_number not in repr(rows)


def test_the_system_may_ask_on_a_departments_behalf(world):
    """Theme applications call the service with plain arguments and no officer."""
    request = submit(world, requested_by_id=None, related_application_id="theme-app-17")
    assert request.requested_by_id is None
    assert request.events[0].actor_user_id is None
    service.accept_request(request.id, world.responder)
    told = db.session.scalars(
        select(Notification.user_id).where(Notification.title == "协查请求已受理")
    ).all()
    assert sorted(told) == sorted([world.requester.id, world.colleague.id, world.citizen.id])


def test_an_officer_may_only_ask_in_the_name_of_their_own_department(world):
    with pytest.raises(Forbidden):
        submit(world, requested_by_id=world.outsider.id)


def test_a_request_created_just_before_midnight_counts_from_that_local_day(world):
    late_monday = datetime(2026, 3, 2, 23, 59, tzinfo=clock.SHANGHAI)
    with clock.frozen(late_monday):
        request = submit(world)
    assert request.deadline - late_monday < timedelta(days=4)
    assert clock.to_local(request.deadline) == "2026-03-05T23:59:59+08:00"
