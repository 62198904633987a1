"""Departments process their part; every decision reaches the applicant."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from backend.errors import Conflict, Forbidden
from backend.extensions import db
from backend.models import User
from backend.services import theme_parts, themes
from notifications.models import Notification
from tests.factories import create_user, error_of
from tests.themes.factories import new_key

VALUES = {"经营场所": "文三路1号"}


def submitted(api, restaurant) -> dict:
    consent_id = api.post(
        f"/themes/{restaurant.bundle_id}/consents", token=restaurant.token
    ).get_json()["id"]
    response = api.post(
        f"/themes/{restaurant.bundle_id}/applications",
        json={"consent_id": consent_id, "values": VALUES},
        token=restaurant.token,
        headers={"Idempotency-Key": new_key()},
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def part_of(application: dict, department: str) -> int:
    return next(p["id"] for p in application["parts"] if p["department"]["name"] == department)


def applicant_notices(restaurant) -> list[str]:
    return list(
        db.session.scalars(
            select(Notification.title)
            .where(Notification.user_id == restaurant.representative.id)
            .order_by(Notification.id)
        )
    )


def test_an_officer_accepts_and_approves_and_the_applicant_is_told_each_time(api, restaurant):
    part = part_of(submitted(api, restaurant), "市市场监督管理局")
    accepted = api.post(f"/application-parts/{part}/accept", token=restaurant.amr_token)
    assert accepted.status_code == 200 and accepted.get_json()["state"] == "accepted"
    approved = api.post(f"/application-parts/{part}/approve", token=restaurant.amr_token)
    assert approved.get_json()["state"] == "approved"
    assert applicant_notices(restaurant) == ["主题服务申请已提交", "申请已受理", "申请已办结"]


def test_a_correction_request_carries_its_message_to_the_applicant(api, restaurant):
    application = submitted(api, restaurant)
    part = part_of(application, "市卫生健康委员会")
    response = api.post(
        f"/application-parts/{part}/request-correction",
        json={"message": "请补充从业人员名单"},
        token=restaurant.health_token,
    )
    assert response.status_code == 200
    assert response.get_json()["correction_message"] == "请补充从业人员名单"
    body = db.session.scalar(
        select(Notification.body)
        .where(Notification.user_id == restaurant.representative.id)
        .order_by(Notification.id.desc())
    )
    assert "请补充从业人员名单" in body
    resubmitted = api.post(
        f"/application-parts/{part}/resubmit",
        json={"note": "名单已补充"},
        token=restaurant.token,
    )
    assert resubmitted.get_json()["state"] == "resubmitted"
    api.post(f"/application-parts/{part}/accept", token=restaurant.health_token)
    api.post(f"/application-parts/{part}/approve", token=restaurant.health_token)
    detail = api.get(f"/applications/{application['id']}", token=restaurant.token).get_json()
    health = next(p for p in detail["parts"] if p["id"] == part)
    assert [(e["kind"], e["state"]) for e in health["timeline"]] == [
        ("submitted", "submitted"),
        ("request_correction", "correction_requested"),
        ("resubmit", "resubmitted"),
        ("accept", "accepted"),
        ("approve", "approved"),
    ]
    assert health["timeline"][2]["by_applicant"] is True


def test_a_rejection_with_a_reason_reaches_the_applicant(api, restaurant):
    part = part_of(submitted(api, restaurant), "市消防救援支队")
    response = api.post(
        f"/application-parts/{part}/reject",
        json={"message": "场所不在本市辖区"},
        token=restaurant.fire_token,
    )
    assert response.get_json()["state"] == "rejected"
    assert applicant_notices(restaurant)[-1] == "申请未予受理"


def test_the_application_is_completed_when_every_part_is_decided(api, restaurant):
    application = submitted(api, restaurant)
    for department, token in (
        ("市市场监督管理局", restaurant.amr_token),
        ("市卫生健康委员会", restaurant.health_token),
        ("市消防救援支队", restaurant.fire_token),
    ):
        part = part_of(application, department)
        api.post(f"/application-parts/{part}/accept", token=token)
        api.post(f"/application-parts/{part}/approve", token=token)
    detail = api.get(f"/applications/{application['id']}", token=restaurant.token).get_json()
    assert detail["status"] == "completed"


def test_an_illegal_step_is_refused_naming_the_current_state(api, restaurant):
    part = part_of(submitted(api, restaurant), "市市场监督管理局")
    approve = api.post(f"/application-parts/{part}/approve", token=restaurant.amr_token)
    assert approve.status_code == 409
    error = error_of(approve)
    assert error["code"] == "invalid_state" and error["current_state"] == "submitted"
    assert "已提交" in error["message"]
    resubmit = api.post(f"/application-parts/{part}/resubmit", token=restaurant.token)
    assert resubmit.status_code == 409


def test_a_correction_request_without_a_message_is_refused(api, restaurant):
    part = part_of(submitted(api, restaurant), "市市场监督管理局")
    response = api.post(
        f"/application-parts/{part}/request-correction", json={}, token=restaurant.amr_token
    )
    assert response.status_code == 400
    assert error_of(response)["details"][0]["field"] == "message"


def test_officers_act_only_on_their_own_departments_parts(api, restaurant):
    part = part_of(submitted(api, restaurant), "市市场监督管理局")
    for action in ("accept", "approve", "reject"):
        response = api.post(f"/application-parts/{part}/{action}", token=restaurant.fire_token)
        assert response.status_code == 403
    assert api.get(f"/application-parts/{part}", token=restaurant.fire_token).status_code == 403
    assert api.post(f"/application-parts/{part}/accept", token=restaurant.token).status_code == 403
    assert api.post(f"/application-parts/{part}/accept").status_code == 401
    assert (
        api.post("/application-parts/999999/accept", token=restaurant.amr_token).status_code == 404
    )


def test_officers_list_their_departments_parts_by_state(api, restaurant):
    application = submitted(api, restaurant)
    part = part_of(application, "市市场监督管理局")
    listed = api.get("/application-parts", token=restaurant.amr_token).get_json()["parts"]
    assert [p["id"] for p in listed] == [part]
    assert listed[0]["application"]["form_values"]["经营场所"] == "文三路1号"
    api.post(f"/application-parts/{part}/accept", token=restaurant.amr_token)
    assert (
        api.get("/application-parts?state=submitted", token=restaurant.amr_token).get_json()[
            "parts"
        ]
        == []
    )
    accepted = api.get("/application-parts?state=accepted", token=restaurant.amr_token)
    assert [p["id"] for p in accepted.get_json()["parts"]] == [part]
    bad = api.get("/application-parts?state=lost", token=restaurant.amr_token)
    assert bad.status_code == 400 and error_of(bad)["details"][0]["field"] == "state"


def test_an_applicant_sees_only_their_own_applications(api, restaurant):
    application = submitted(api, restaurant)
    other = api.login(create_user())
    assert api.get(f"/applications/{application['id']}", token=other).status_code == 404
    assert api.get("/applications", token=other).get_json()["applications"] == []
    part = application["parts"][0]["id"]
    assert api.post(f"/application-parts/{part}/resubmit", token=other).status_code == 404
    assert api.get("/applications", token=restaurant.amr_token).status_code == 403


def test_two_officers_deciding_at_once_end_with_exactly_one_decision(app, api, restaurant):
    part = part_of(submitted(api, restaurant), "市市场监督管理局")
    api.post(f"/application-parts/{part}/accept", token=restaurant.amr_token)
    colleague_id = create_user("department_officer", department_id=restaurant.amr.department_id).id
    officer_id = restaurant.amr.id
    db.session.remove()
    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def act(action, user_id):
        with app.app_context():
            officer = db.session.get(User, user_id)
            theme_parts._get_part(part).state  # noqa: B018  (read before the race)
            start.wait(timeout=10)
            try:
                theme_parts.officer_action(officer, part, action, "理由")
                outcomes[action] = "done"
            except Conflict as refused:
                outcomes[action] = "refused:" + refused.extra["current_state"]
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=act, args=("approve", officer_id)),
        threading.Thread(target=act, args=("reject", colleague_id)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    final = theme_parts._get_part(part).state
    winner = "approve" if final == "approved" else "reject"
    loser = "reject" if winner == "approve" else "approve"
    assert outcomes == {winner: "done", loser: f"refused:{final}"}


def test_the_applicants_of_a_bundle_are_an_audience(api, restaurant):
    submitted(api, restaurant)
    submitted(api, restaurant)
    assert themes.applicant_user_ids(restaurant.bundle_id) == [restaurant.representative.id]
    assert themes.applicant_user_ids(999999) == []


def test_a_department_handling_the_bundle_can_address_its_applicants(api, restaurant):
    from notifications.audiences import resolve
    from tests.themes.factories import department

    submitted(api, restaurant)
    spec = {"kind": "bundle_applicants", "theme_id": restaurant.bundle_id}
    user_ids = set(db.session.scalars(resolve(restaurant.fire.department_id, spec)))
    assert user_ids == {restaurant.representative.id}
    with pytest.raises(Forbidden) as refused:
        resolve(department("edu").id, spec)
    assert refused.value.code == "theme_not_yours"
