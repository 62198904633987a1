"""Every state change of a verification request, and every refused one."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text

from backend.errors import Conflict
from backend.extensions import db
from backend.models import Certificate, Notification, User
from backend.models.verification import VerificationEvent, VerificationRequest
from backend.services import verification as service
from backend.services.accounts import person_id_number
from tests.factories import create_certificate_type, error_of
from tests.verification.factories import ANSWER, bring_to, create_route, submit

STATES = ("submitted", "accepted", "overdue", "answered", "rejected", "withdrawn")
ACTION_BODIES = {
    "accept": {},
    "answer": {"result": "confirmed", "answer": ANSWER},
    "reject": {"reason": "该事项不属于本部门职责"},
    "withdraw": {"reason": "申请人已撤回申请"},
}
# (state, action) -> state after it; missing pairs are refused with 409.
ALLOWED = {
    ("submitted", "accept"): "accepted",
    ("submitted", "reject"): "rejected",
    ("submitted", "withdraw"): "withdrawn",
    ("accepted", "answer"): "answered",
    ("accepted", "reject"): "rejected",
    ("accepted", "withdraw"): "withdrawn",
    ("overdue", "answer"): "answered",
    ("overdue", "reject"): "rejected",
    ("overdue", "withdraw"): "withdrawn",
}
LABELS = {
    "submitted": "已提交",
    "accepted": "已受理",
    "overdue": "已逾期",
    "answered": "已答复",
    "rejected": "已退回",
    "withdrawn": "已撤回",
}


def _actor(world, action):
    return world.requester if action == "withdraw" else world.responder


def _id(user) -> str:
    return person_id_number(user.person)


def _event_count(request_id: int) -> int:
    return db.session.scalar(
        select(func.count(VerificationEvent.id)).where(VerificationEvent.request_id == request_id)
    )


@pytest.mark.parametrize("action", list(ACTION_BODIES))
@pytest.mark.parametrize("state", STATES)
def test_each_action_from_each_state_is_done_or_refused_naming_the_state(api, world, state, action):
    request = bring_to(world, state)
    events_before = _event_count(request.id)
    token = api.login(_actor(world, action))
    response = api.post(
        f"/verification-requests/{request.id}/{action}", json=ACTION_BODIES[action], token=token
    )
    db.session.expire_all()
    if (state, action) in ALLOWED:
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["state"] == ALLOWED[(state, action)]
        assert body["timeline"][-1]["state"] == ALLOWED[(state, action)]
        assert _event_count(request.id) == events_before + 1
    else:
        assert response.status_code == 409
        error = error_of(response)
        assert error["code"] == "invalid_state"
        assert error["current_state"] == state
        assert LABELS[state] in error["message"]
        assert db.session.get(VerificationRequest, request.id).state == state
        assert _event_count(request.id) == events_before


def test_the_whole_path_through_the_api_records_who_did_what(api, world):
    requester = api.login(world.requester)
    responder = api.login(world.responder)
    created = api.post(
        "/verification-requests",
        json={
            "subject": {"name": world.citizen.person.name, "id_number": _id(world.citizen)},
            "proof_type": "从业人员健康合格证明",
            "question": "该人员是否持有有效的从业人员健康合格证明",
            "purpose": "食品经营许可申请",
            "legal_basis": "《中华人民共和国食品安全法》第四十五条",
            "related_application_id": 42,
        },
        token=requester,
    )
    assert created.status_code == 201, created.get_json()
    request_id = created.get_json()["id"]
    assert created.get_json()["related_application_id"] == "42"
    assert created.get_json()["actions"] == ["withdraw"]
    accepted = api.post(
        f"/verification-requests/{request_id}/accept", json={"note": "已受理"}, token=responder
    )
    assert accepted.get_json()["actions"] == ["answer", "reject"]
    answered = api.post(
        f"/verification-requests/{request_id}/answer",
        json={"result": "not_confirmed", "answer": "未查询到该人员的健康体检记录。"},
        token=responder,
    )
    assert answered.status_code == 200, answered.get_json()
    body = answered.get_json()
    assert body["answer"]["result"] == "not_confirmed"
    assert body["answer"]["seal"]["verified"] is True
    assert [
        (e["kind"], e["actor"]["department"], e["actor"]["name"]) for e in body["timeline"]
    ] == [
        ("submitted", "市市场监督管理局", "市场监管窗口"),
        ("accepted", "市卫生健康委员会", "卫健委窗口"),
        ("answered", "市卫生健康委员会", "卫健委窗口"),
    ]
    assert body["timeline"][1]["note"] == "已受理"
    assert all(e["at"].endswith("+08:00") for e in body["timeline"])


def test_a_colleague_of_the_requester_may_withdraw(api, world):
    request = submit(world)
    response = api.post(
        f"/verification-requests/{request.id}/withdraw", json={}, token=api.login(world.colleague)
    )
    assert response.status_code == 200
    assert response.get_json()["state"] == "withdrawn"


@pytest.mark.parametrize("action", ["accept", "answer", "reject"])
def test_only_the_responding_department_accepts_answers_or_rejects(api, world, action):
    request = submit(world)
    for officer in (world.requester, world.outsider):
        response = api.post(
            f"/verification-requests/{request.id}/{action}",
            json=ACTION_BODIES[action],
            token=api.login(officer),
        )
        assert response.status_code == 403
    assert db.session.get(VerificationRequest, request.id).state == "submitted"


def test_only_the_requesting_department_withdraws(api, world):
    request = submit(world)
    for officer in (world.responder, world.outsider):
        response = api.post(
            f"/verification-requests/{request.id}/withdraw", json={}, token=api.login(officer)
        )
        assert response.status_code == 403


@pytest.mark.parametrize("who", ["citizen", "supervisor", "admin", "representative"])
def test_people_who_are_not_officers_cannot_change_a_request(api, world, who):
    request = submit(world)
    response = api.post(
        f"/verification-requests/{request.id}/accept", json={}, token=api.login(getattr(world, who))
    )
    assert response.status_code == 403


def test_an_unknown_request_is_404(api, world):
    response = api.post(
        "/verification-requests/999999/accept", json={}, token=api.login(world.responder)
    )
    assert response.status_code == 404
    assert error_of(response)["code"] == "verification_request_not_found"


def test_a_rejection_needs_a_reason(api, world):
    request = submit(world)
    token = api.login(world.responder)
    missing = api.post(f"/verification-requests/{request.id}/reject", json={}, token=token)
    assert missing.status_code == 400 and error_of(missing)["field"] == "reason"
    blank = api.post(
        f"/verification-requests/{request.id}/reject", json={"reason": "  "}, token=token
    )
    assert blank.status_code == 400 and error_of(blank)["code"] == "missing_field"
    rejected = api.post(
        f"/verification-requests/{request.id}/reject", json={"reason": "非本部门职责"}, token=token
    )
    assert rejected.get_json()["rejection_reason"] == "非本部门职责"
    assert rejected.get_json()["timeline"][-1]["note"] == "非本部门职责"


def test_an_answer_needs_a_result_from_the_list_and_some_text(api, world):
    request = bring_to(world, "accepted")
    token = api.login(world.responder)
    path = f"/verification-requests/{request.id}/answer"
    wrong = api.post(path, json={"result": "maybe", "answer": "?"}, token=token)
    assert wrong.status_code == 400 and error_of(wrong)["field"] == "result"
    blank = api.post(path, json={"result": "confirmed", "answer": " \n "}, token=token)
    assert blank.status_code == 400 and error_of(blank)["field"] == "answer"
    assert db.session.get(VerificationRequest, request.id).state == "accepted"


def test_internal_notes_are_flagged_internal_on_the_timeline(api, world):
    request = submit(world)
    response = api.post(
        f"/verification-requests/{request.id}/accept",
        json={"note": "已受理,将于两日内答复", "internal_note": "需调阅体检系统"},
        token=api.login(world.responder),
    )
    steps = [(e["kind"], e["note"], e["internal"]) for e in response.get_json()["timeline"]]
    assert steps[-2:] == [
        ("accepted", "已受理,将于两日内答复", False),
        ("note", "需调阅体检系统", True),
    ]


def test_a_change_made_meanwhile_by_someone_else_wins_and_the_late_one_gets_409(world):
    """Two officers act on the same request: the state is compare-and-set, so the one
    who read a stale state is refused with the state the other one left."""
    request = bring_to(world, "accepted")
    stale = db.session.get(VerificationRequest, request.id)
    assert stale.state == "accepted"
    with db.engine.begin() as other_connection:  # another worker withdraws it
        other_connection.execute(
            text("UPDATE verification_requests SET state = 'withdrawn' WHERE id = :id"),
            {"id": request.id},
        )
    with pytest.raises(Conflict) as refused:
        service.answer_request(request.id, world.responder, result="confirmed", answer=ANSWER)
    assert refused.value.extra["current_state"] == "withdrawn"
    db.session.expire_all()
    fresh = db.session.get(VerificationRequest, request.id)
    assert fresh.state == "withdrawn" and fresh.answer is None


def test_a_bad_certificate_field_leaves_the_request_unanswered_and_nothing_written(api, world):
    cert_type = create_certificate_type(
        "health_proof",
        department=world.answering,
        kind="proof",
        fields=[
            {"name": "姓名", "type": "text", "required": True, "max_length": 50},
            {"name": "公民身份号码", "type": "id_number", "required": True},
            {"name": "体检日期", "type": "date", "required": True},
        ],
    )
    route = create_route("health_proof", "健康证明", world.answering, certificate_type=cert_type)
    request = bring_to(world, "accepted", route=route)
    notifications_before = db.session.scalar(select(func.count(Notification.id)))
    events_before = _event_count(request.id)
    response = api.post(
        f"/verification-requests/{request.id}/answer",
        json={
            "result": "confirmed",
            "answer": ANSWER,
            "certificate": {"fields": {"体检日期": "2026-02-30"}},
        },
        token=api.login(world.responder),
    )
    assert response.status_code == 422
    assert error_of(response)["field"] == "certificate.fields.体检日期"
    db.session.expire_all()
    request = db.session.get(VerificationRequest, request.id)
    assert request.state == "accepted" and request.answer is None
    assert db.session.scalar(select(func.count(Certificate.id))) == 0
    assert db.session.scalar(select(func.count(Notification.id))) == notifications_before
    assert _event_count(request.id) == events_before


def test_an_answer_and_a_withdrawal_racing_each_other_end_with_exactly_one_of_them(app, world):
    """Two workers, two sessions, started together: one wins, the other is told why."""
    request = bring_to(world, "accepted")
    request_id, responder_id, requester_id = request.id, world.responder.id, world.requester.id
    db.session.remove()
    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def act(name, user_id, call):
        with app.app_context():
            officer = db.session.get(User, user_id)
            db.session.get(VerificationRequest, request_id).state  # noqa: B018  (read first)
            start.wait(timeout=10)
            try:
                call(officer)
                outcomes[name] = "done"
            except Conflict as refused:
                outcomes[name] = "refused:" + refused.extra["current_state"]
            finally:
                db.session.remove()

    threads = [
        threading.Thread(
            target=act,
            args=(
                "answer",
                responder_id,
                lambda o: service.answer_request(request_id, o, result="confirmed", answer=ANSWER),
            ),
        ),
        threading.Thread(
            target=act,
            args=("withdraw", requester_id, lambda o: service.withdraw_request(request_id, o)),
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    final = db.session.get(VerificationRequest, request_id)
    winner = "answer" if final.state == "answered" else "withdraw"
    loser = "withdraw" if winner == "answer" else "answer"
    assert outcomes == {winner: "done", loser: f"refused:{final.state}"}
    kinds = [e.kind for e in final.events]
    assert kinds == ["submitted", "accepted", "answered" if winner == "answer" else "withdrawn"]
