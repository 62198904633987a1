"""The overdue sweep with a frozen, advanced clock: flag, remind, escalate."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from backend import clock
from backend.extensions import db
from backend.models import Notification
from backend.models.verification import VerificationRequest
from backend.services import verification as service
from backend.services.verification_sweep import sweep_overdue
from tests.verification.factories import ANSWER, submit

# The request below is submitted Monday 09:00 and due Thursday 23:59:59 local time.
THURSDAY_NOON = datetime(2026, 3, 5, 12, 0, tzinfo=clock.SHANGHAI)
FRIDAY_MIDNIGHT = datetime(2026, 3, 6, 0, 0, tzinfo=clock.SHANGHAI)


def _titles(request_id: int) -> list[tuple[int, str]]:
    return [
        (n.user_id, n.title)
        for n in db.session.scalars(
            select(Notification)
            .where(Notification.link == f"/verification-requests/{request_id}")
            .order_by(Notification.id)
        )
    ]


def _kinds(request: VerificationRequest) -> list[str]:
    db.session.refresh(request)
    return [e.kind for e in request.events]


def test_nothing_happens_before_the_deadline(world, monday):
    request = submit(world)
    clock.advance(timedelta(days=2))  # Wednesday 09:00
    report = sweep_overdue()
    assert (report.flagged, report.reminded, report.due_soon) == ([], [], [])
    assert db.session.get(VerificationRequest, request.id).state == "submitted"


def test_the_responder_is_warned_once_on_the_last_day(world, monday):
    request = submit(world)
    clock.advance(THURSDAY_NOON - monday)
    assert sweep_overdue().due_soon == [request.id]
    assert sweep_overdue().due_soon == []
    assert (world.responder.id, "协查请求即将到期") in _titles(request.id)
    assert _kinds(request)[-1] == "due_soon"
    assert request.events[-1].internal is True


def test_a_request_past_its_deadline_is_flagged_reminded_and_escalated(world, monday):
    request = submit(world)
    service.accept_request(request.id, world.responder)
    clock.advance(FRIDAY_MIDNIGHT - monday)
    report = sweep_overdue()
    assert report.flagged == [request.id]
    request = db.session.get(VerificationRequest, request.id)
    assert request.state == "overdue"
    assert request.overdue_at == FRIDAY_MIDNIGHT
    assert _kinds(request)[-1] == "overdue" and request.events[-1].internal is False
    assert request.events[-1].actor_user_id is None
    titles = _titles(request.id)
    assert (world.responder.id, "协查请求已逾期,请尽快答复") in titles
    assert (world.requester.id, "协查请求已逾期") in titles
    assert (world.supervisor.id, "协查请求逾期督办") in titles
    assert (world.citizen.id, "协查请求已逾期") in titles


def test_an_overdue_request_is_reminded_again_once_a_day(world, monday):
    request = submit(world)
    clock.advance(FRIDAY_MIDNIGHT - monday)
    sweep_overdue()
    clock.advance(timedelta(hours=23))
    assert sweep_overdue().reminded == []
    clock.advance(timedelta(hours=1))
    assert sweep_overdue().reminded == [request.id]
    assert sweep_overdue().reminded == []
    reminders = [t for t in _titles(request.id) if t[1] == "逾期协查请求催办"]
    assert reminders == [(world.responder.id, "逾期协查请求催办")]
    assert _kinds(request)[-1] == "reminder" and request.events[-1].internal is True


def test_answered_rejected_and_withdrawn_requests_are_never_flagged(world, monday):
    answered = submit(world)
    service.accept_request(answered.id, world.responder)
    service.answer_request(answered.id, world.responder, result="confirmed", answer=ANSWER)
    rejected = submit(world, question="第二个问题")
    service.reject_request(rejected.id, world.responder, "非本部门职责")
    withdrawn = submit(world, question="第三个问题")
    service.withdraw_request(withdrawn.id, world.requester)
    clock.advance(timedelta(days=30))
    report = sweep_overdue()
    assert (report.flagged, report.reminded, report.due_soon) == ([], [], [])


def test_a_holiday_moves_the_deadline_and_the_sweep_honours_it(app, world, monday, monkeypatch):
    monkeypatch.setitem(app.config, "VERIFICATION_HOLIDAYS", "2026-03-05")
    request = submit(world)
    assert clock.to_local(request.deadline) == "2026-03-06T23:59:59+08:00"
    clock.advance(FRIDAY_MIDNIGHT - monday)
    assert sweep_overdue().flagged == []
    clock.advance(timedelta(days=1))
    assert sweep_overdue().flagged == [request.id]


def test_the_flask_command_runs_the_sweep(runner, world, monday):
    request = submit(world)
    clock.advance(FRIDAY_MIDNIGHT - monday)
    result = runner.invoke(args=["verification-sweep"])
    assert result.exit_code == 0, result.output
    assert "overdue flagged: 1" in result.output
    db.session.expire_all()
    assert db.session.get(VerificationRequest, request.id).state == "overdue"


def test_the_citizen_sees_the_overdue_step_but_not_the_reminders(api, world, monday):
    request = submit(world)
    clock.advance(FRIDAY_MIDNIGHT - monday + timedelta(days=1))
    sweep_overdue()
    clock.advance(timedelta(days=1))
    sweep_overdue()
    citizen_view = api.get(f"/verification-requests/{request.id}", token=api.login(world.citizen))
    assert [e["kind"] for e in citizen_view.get_json()["timeline"]] == ["submitted", "overdue"]
    assert citizen_view.get_json()["overdue"] is True
    staff_view = api.get(f"/verification-requests/{request.id}", token=api.login(world.requester))
    assert [e["kind"] for e in staff_view.get_json()["timeline"]] == [
        "submitted",
        "overdue",
        "reminder",
    ]
