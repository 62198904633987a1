"""Departments process their part of a theme application; the applicant follows and answers
corrections. State changes are compare-and-set, so of two officers acting at once one wins
and the other gets 409; every change is a timeline event and a notification.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from backend import clock
from backend.errors import Conflict, Forbidden, NotFound, ValidationFailed
from backend.extensions import db
from backend.models import Role, User
from backend.models.themes import ThemeApplicationEvent, ThemeApplicationPart
from backend.services.tx import transactional
from backend.services.verification_notify import officer_ids
from notifications.service import notify

STATE_LABELS = {
    "submitted": "已提交",
    "accepted": "已受理",
    "correction_requested": "待补正",
    "resubmitted": "已补正",
    "approved": "已办结(通过)",
    "rejected": "不予受理",
}
# action -> (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "accept": (frozenset({"submitted", "resubmitted"}), "accepted"),
    "request_correction": (
        frozenset({"submitted", "accepted", "resubmitted"}),
        "correction_requested",
    ),
    "approve": (frozenset({"accepted"}), "approved"),
    "reject": (frozenset({"submitted", "accepted", "resubmitted"}), "rejected"),
    "resubmit": (frozenset({"correction_requested"}), "resubmitted"),
}
ACTION_LABELS = {
    "accept": "受理",
    "request_correction": "要求补正",
    "approve": "办结通过",
    "reject": "不予受理",
    "resubmit": "提交补正",
}
OFFICER_ACTIONS = ("accept", "request_correction", "approve", "reject")
# What the applicant is told after each step.
NOTICES = {
    "accept": ("申请已受理", "您的申请「{item}」已由{department}受理。"),
    "request_correction": ("申请需要补正", "{department}要求补正「{item}」:{note}"),
    "approve": ("申请已办结", "您的申请「{item}」已由{department}审批通过。"),
    "reject": ("申请未予受理", "{department}未予受理「{item}」。{note}"),
}


def _get_part(part_id: int) -> ThemeApplicationPart:
    part = db.session.get(ThemeApplicationPart, part_id)
    if part is None:
        raise NotFound("申请事项不存在", code="application_part_not_found")
    return part


def officer_part(officer: User, part_id: int) -> ThemeApplicationPart:
    """A part of the officer's own department; others get 403."""
    part = _get_part(part_id)
    if officer.role != Role.DEPARTMENT_OFFICER or officer.department_id != part.department_id:
        raise Forbidden("只能办理本部门的申请事项", code="forbidden")
    return part


def _move(part: ThemeApplicationPart, action: str) -> None:
    sources, target = TRANSITIONS[action]
    read = part.state
    if read in sources:
        moved = db.session.execute(
            update(ThemeApplicationPart)
            .where(ThemeApplicationPart.id == part.id, ThemeApplicationPart.state == read)
            .values(state=target, updated_at=clock.now())
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount == 1:
            set_committed_value(part, "state", target)
            return
        db.session.refresh(part)
    raise Conflict(
        f"申请事项当前状态为「{STATE_LABELS[part.state]}」,不能{ACTION_LABELS[action]}",
        code="invalid_state",
        current_state=part.state,
    )


def add_event(part: ThemeApplicationPart, kind: str, actor: User | None, note=None) -> None:
    """Append a step to the part's timeline, with the state it led to."""
    part.events.append(
        ThemeApplicationEvent(
            kind=kind,
            state=part.state,
            actor_user_id=actor.id if actor else None,
            note=note,
            created_at=clock.now(),
        )
    )


@transactional
def officer_action(
    officer: User, part_id: int, action: str, message: str | None = None
) -> ThemeApplicationPart:
    """accept | request_correction (message required) | approve | reject, then notify."""
    note = (message or "").strip() or None
    if action == "request_correction" and note is None:
        raise ValidationFailed("请填写需要补正的内容", code="missing_field", field="message")
    part = officer_part(officer, part_id)
    _move(part, action)
    if action == "request_correction":
        part.correction_message = note
    add_event(part, action, officer, note)
    title, body = NOTICES[action]
    application = part.application
    notify(
        application.user_id,
        "theme_application",
        title,
        body.format(
            item=part.item_version.handling_item, department=part.department.name, note=note or ""
        ).strip(),
        f"/applications/{application.id}",
    )
    return part


@transactional
def resubmit_part(applicant: User, part_id: int, note: str | None) -> ThemeApplicationPart:
    """The applicant answers a correction request; the department is told."""
    part = _get_part(part_id)
    if part.application.user_id != applicant.id:
        raise NotFound("申请事项不存在", code="application_part_not_found")
    _move(part, "resubmit")
    add_event(part, "resubmit", applicant, (note or "").strip() or None)
    for officer_id in officer_ids(part.department_id):
        notify(
            officer_id,
            "theme_application",
            "申请人已提交补正",
            f"「{part.item_version.handling_item}」的申请人已按要求补正,请继续办理。",
            f"/application-parts/{part.id}",
        )
    return part


def department_parts(officer: User, state: str | None) -> list[ThemeApplicationPart]:
    """The parts routed to the officer's department, newest first."""
    if officer.department_id is None:
        raise Forbidden("账号未关联部门", code="no_department")
    query = select(ThemeApplicationPart).where(
        ThemeApplicationPart.department_id == officer.department_id
    )
    if state:
        query = query.where(ThemeApplicationPart.state == state)
    return list(db.session.scalars(query.order_by(ThemeApplicationPart.id.desc())))


def application_status(parts: list[ThemeApplicationPart]) -> str:
    """in_progress until every part is decided; then completed."""
    done = all(p.state in ("approved", "rejected") for p in parts)
    return "completed" if done else "in_progress"
