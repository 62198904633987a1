"""Verification requests (部门协查): creation, the state machine and the timeline.

Office A asks office B online to confirm a fact instead of sending the citizen for a proof.
Every step is a timeline event and notifies the parties; state changes are compare-and-set
updates, so of two officers acting at once exactly one wins and the other gets 409.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value

from backend import clock
from backend.errors import Conflict, Forbidden, UnprocessableEntity, ValidationFailed
from backend.extensions import db
from backend.models import Department, Person, Role, User
from backend.models.verification import VerificationEvent, VerificationRequest
from backend.services import verification_answers as answers
from backend.services import verification_routes as routes
from backend.services.tx import transactional
from backend.services.verification_access import get_request
from backend.services.verification_notify import notify_step
from backend.services.verification_subjects import resolve_subject

STATE_LABELS = {
    "submitted": "已提交",
    "accepted": "已受理",
    "overdue": "已逾期",
    "answered": "已答复",
    "rejected": "已退回",
    "withdrawn": "已撤回",
}
# action -> (states it may start from, state it leads to). Anything else is refused with 409.
# An overdue request is answered, rejected or withdrawn directly: accepting it is moot.
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "accept": (frozenset({"submitted"}), "accepted"),
    "answer": (frozenset({"accepted", "overdue"}), "answered"),
    "reject": (frozenset({"submitted", "accepted", "overdue"}), "rejected"),
    "withdraw": (frozenset({"submitted", "accepted", "overdue"}), "withdrawn"),
    "mark_overdue": (frozenset({"submitted", "accepted"}), "overdue"),
}
ACTION_LABELS = {
    "accept": "受理",
    "answer": "答复",
    "reject": "退回",
    "withdraw": "撤回",
    "mark_overdue": "标记逾期",
}
RESPONDER_ACTIONS = ("accept", "answer", "reject")
REQUESTER_ACTIONS = ("withdraw",)


def invalid_state(state: str, action: str) -> Conflict:
    return Conflict(
        f"协查请求当前状态为「{STATE_LABELS.get(state, state)}」,不能{ACTION_LABELS[action]}",
        code="invalid_state",
        current_state=state,
    )


def allowed_actions(state: str) -> list[str]:
    return [
        a for a, (sources, _) in TRANSITIONS.items() if state in sources and a != "mark_overdue"
    ]


def _require_department(user: User, department_id: int, action: str) -> None:
    if user.role != Role.DEPARTMENT_OFFICER or user.department_id != department_id:
        side = "答复" if action in RESPONDER_ACTIONS else "发起"
        raise Forbidden(f"只有{side}部门的工作人员可以{ACTION_LABELS[action]}", code="forbidden")


# --- timeline --------------------------------------------------------------------------------


def add_event(
    request: VerificationRequest,
    kind: str,
    *,
    actor: User | None = None,
    department_id: int | None = None,
    note: str | None = None,
    internal: bool = False,
) -> VerificationEvent:
    """Append a step to the timeline; ``actor`` None means the system did it."""
    event = VerificationEvent(
        kind=kind,
        state=request.state,
        actor_user_id=actor.id if actor else None,
        actor_department_id=department_id,
        note=note,
        internal=internal,
        created_at=clock.now(),
    )
    request.events.append(event)
    return event


def _step_events(
    request: VerificationRequest,
    kind: str,
    actor: User | None,
    department_id: int | None,
    note: str | None,
    internal_note: str | None,
) -> None:
    add_event(request, kind, actor=actor, department_id=department_id, note=_clean(note))
    if _clean(internal_note):
        add_event(
            request,
            "note",
            actor=actor,
            department_id=department_id,
            note=_clean(internal_note),
            internal=True,
        )


def _clean(text: str | None) -> str | None:
    return text.strip() or None if text else None


# --- creating --------------------------------------------------------------------------------


def _required(value: str | None, field: str, label: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationFailed(f"{label}不能为空", code="missing_field", field=field)
    return text


@transactional
def create_verification_request(
    *,
    requesting_department_id: int,
    requested_by_id: int | None,
    proof_type: str,
    subject_name: str,
    subject_id_number: str | None = None,
    subject_credit_code: str | None = None,
    question: str,
    purpose: str,
    legal_basis: str,
    related_application_id: str | None = None,
    deadline: date | None = None,
) -> VerificationRequest:
    """Ask the department the directory routes ``proof_type`` to; plain arguments only.

    ``requested_by_id`` is the asking officer, or None when the system asks on a
    department's behalf (e.g. for a theme application). ``deadline`` is a local date
    (answer by the end of it); by default the route's working days. When a valid signed
    answer to the same question about the same subject exists, the request is answered
    from it at once.
    """
    department = (
        db.session.get(Department, requesting_department_id)
        if requesting_department_id is not None
        else None
    )
    if department is None:
        raise Forbidden("账号未关联部门,不能发起协查", code="no_department")
    requester = db.session.get(User, requested_by_id) if requested_by_id is not None else None
    if requested_by_id is not None and (
        requester is None or requester.department_id != department.id
    ):
        raise Forbidden("只能以本部门名义发起协查", code="forbidden")
    route = routes.find_route(proof_type)
    if route.department_id == department.id:
        raise UnprocessableEntity(
            "该证明事项由本部门出具,无需向本部门发起协查",
            code="same_department",
            field="proof_type",
        )
    name = _required(subject_name, "subject.name", "协查对象名称")
    question = answers.normalise_question(_required(question, "question", "协查事项"))
    purpose = _required(purpose, "purpose", "用途")
    legal_basis = _required(legal_basis, "legal_basis", "法律依据")
    person, company, subject_hash = resolve_subject(
        route.subject_kind, name, subject_id_number, subject_credit_code
    )
    now = clock.now()
    if deadline is not None and deadline < routes.local_today():
        raise UnprocessableEntity("答复期限不能早于今天", code="invalid_deadline", field="deadline")
    request = VerificationRequest(
        route_id=route.id,
        proof_type=route.code,
        requesting_department_id=department.id,
        responding_department_id=route.department_id,
        requested_by_id=requester.id if requester else None,
        subject_kind=route.subject_kind,
        subject_person_id=person.id if person else None,
        subject_company_id=company.id if company else None,
        subject_hash=subject_hash,
        question=question,
        question_digest=answers.question_digest(question),
        purpose=purpose,
        legal_basis=legal_basis,
        related_application_id=(str(related_application_id) if related_application_id else None),
        state="submitted",
        deadline=(
            routes.end_of_local_day(deadline)
            if deadline is not None
            else routes.default_deadline(route, now)
        ),
        created_at=now,
    )
    db.session.add(request)
    db.session.flush()
    add_event(request, "submitted", actor=requester, department_id=department.id)
    source = answers.find_reusable_answer(request, now)
    if source is None:
        notify_step(request, "submitted")
        return request
    answers.copy_answer(request, source, now)
    answered_on = clock.to_local(source.answered_at)[:10]
    add_event(
        request,
        "answered_from_previous",
        department_id=source.responding_department_id,
        note=(
            f"依据{source.responding_department.name}于 {answered_on} 作出的签章答复"
            f"(协查编号 {source.id})即时答复,无需重复核实。"
        ),
    )
    notify_step(request, "answered_from_previous")
    return request


# --- state changes ---------------------------------------------------------------------------


def _move(request: VerificationRequest, action: str) -> None:
    """Compare-and-set the state: refused with 409 unless it still is what we read."""
    sources, target = TRANSITIONS[action]
    read = request.state
    if read not in sources:
        raise invalid_state(read, action)
    moved = db.session.execute(
        update(VerificationRequest)
        .where(VerificationRequest.id == request.id, VerificationRequest.state == read)
        .values(state=target)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # someone else changed it since we read it
        db.session.refresh(request)
        raise invalid_state(request.state, action)
    set_committed_value(request, "state", target)


def _acting_request(request_id: int, officer: User, action: str) -> VerificationRequest:
    request = get_request(request_id)
    side = (
        request.responding_department_id
        if action in RESPONDER_ACTIONS
        else request.requesting_department_id
    )
    _require_department(officer, side, action)
    return request


@transactional
def accept_request(
    request_id: int, officer: User, note: str | None = None, internal_note: str | None = None
) -> VerificationRequest:
    """The responding department takes the request on."""
    request = _acting_request(request_id, officer, "accept")
    _move(request, "accept")
    request.accepted_at = clock.now()
    _step_events(request, "accepted", officer, officer.department_id, note, internal_note)
    notify_step(request, "accepted")
    return request


@transactional
def answer_request(
    request_id: int,
    officer: User,
    *,
    result: str,
    answer: str,
    valid_until: date | None = None,
    certificate: dict[str, Any] | None = None,
    note: str | None = None,
    internal_note: str | None = None,
) -> VerificationRequest:
    """Answer (confirmed / not confirmed), sealed; optionally issue the proof certificate.

    ``certificate`` is ``{"fields": {...}, "expires_on": date | None}``; it is issued in
    the same transaction, so a bad field leaves the request unanswered.
    """
    request = _acting_request(request_id, officer, "answer")
    if result not in ("confirmed", "not_confirmed"):
        raise ValidationFailed("答复结论无效", code="invalid_value", field="result")
    text = _required(answer, "answer", "答复内容")
    now = clock.now().replace(microsecond=0)  # signed as seconds; stored exactly so
    today = now.astimezone(clock.SHANGHAI).date()
    if valid_until is not None and valid_until < today:
        raise UnprocessableEntity(
            "答复有效期不能早于今天", code="invalid_date", field="valid_until"
        )
    _move(request, "answer")
    request.result = result
    request.answer = text
    request.answered_at = now
    request.closed_at = now
    request.answered_by_id = officer.id
    request.valid_until = (
        routes.end_of_local_day(valid_until)
        if valid_until is not None
        else now + timedelta(days=request.route.answer_validity_days)
    ).replace(microsecond=0)
    if certificate is not None:
        holder = request.subject_company or db.session.get(Person, request.subject_person_id)
        request.certificate = answers.issue_with_answer(
            request, holder, certificate.get("fields") or {}, certificate.get("expires_on"), today
        )
    answers.seal_answer(request, request.responding_department)
    _step_events(request, "answered", officer, officer.department_id, note, internal_note)
    notify_step(request, "answered")
    return request


@transactional
def reject_request(
    request_id: int, officer: User, reason: str, internal_note: str | None = None
) -> VerificationRequest:
    """The responding department declines, saying why (the requester and subject see it)."""
    request = _acting_request(request_id, officer, "reject")
    reason = _required(reason, "reason", "退回原因")
    _move(request, "reject")
    request.closed_at = clock.now()
    request.rejection_reason = reason
    _step_events(request, "rejected", officer, officer.department_id, reason, internal_note)
    notify_step(request, "rejected", reason)
    return request


@transactional
def withdraw_request(
    request_id: int, officer: User, reason: str | None = None, internal_note: str | None = None
) -> VerificationRequest:
    """The requesting department takes the request back before it is answered."""
    request = _acting_request(request_id, officer, "withdraw")
    _move(request, "withdraw")
    request.closed_at = clock.now()
    _step_events(request, "withdrawn", officer, officer.department_id, reason, internal_note)
    notify_step(request, "withdrawn")
    return request


def mark_overdue(request: VerificationRequest, now: datetime) -> None:
    """The sweep's step: flag, remind the responder, escalate to the supervisor."""
    _move(request, "mark_overdue")
    request.overdue_at = now
    request.last_reminded_at = now
    deadline = clock.to_local(request.deadline)[:16].replace("T", " ")
    add_event(request, "overdue", note=f"已超过答复期限({deadline}),已催办并报减证便民专班。")
    notify_step(request, "overdue")
