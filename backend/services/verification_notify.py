"""Who is told what at each step of a verification request (through ``notify``)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from backend import clock
from backend.extensions import db
from backend.models import CompanyRepresentative, Role, User
from backend.models.verification import VerificationRequest
from notifications.service import notify

CATEGORY = "verification"
RESULT_LABELS = {"confirmed": "经核实属实", "not_confirmed": "经核实不属实"}


def link(request: VerificationRequest) -> str:
    return f"/verification-requests/{request.id}"


def subject_user_ids(request: VerificationRequest) -> list[int]:
    """The subject citizen's accounts, or the representatives of the subject company."""
    if request.subject_person_id is not None:
        query = select(User.id).where(User.person_id == request.subject_person_id)
    else:
        query = (
            select(User.id)
            .join(CompanyRepresentative, CompanyRepresentative.user_id == User.id)
            .where(CompanyRepresentative.company_id == request.subject_company_id)
        )
    return list(db.session.scalars(query.where(User.enabled.is_(True)).order_by(User.id)))


def officer_ids(department_id: int) -> list[int]:
    return list(
        db.session.scalars(
            select(User.id)
            .where(
                User.role == Role.DEPARTMENT_OFFICER,
                User.department_id == department_id,
                User.enabled.is_(True),
            )
            .order_by(User.id)
        )
    )


def requester_ids(request: VerificationRequest) -> list[int]:
    """The officer who asked; the whole requesting department when the system asked."""
    if request.requested_by_id is not None:
        return [request.requested_by_id]
    return officer_ids(request.requesting_department_id)


def supervisor_ids() -> list[int]:
    return list(
        db.session.scalars(
            select(User.id)
            .where(User.role == Role.SUPERVISOR, User.enabled.is_(True))
            .order_by(User.id)
        )
    )


def _tell(user_ids: Iterable[int], request: VerificationRequest, title: str, body: str) -> None:
    for user_id in dict.fromkeys(user_ids):  # once each, in order
        notify(user_id, CATEGORY, title, body, link(request))


def notify_step(request: VerificationRequest, kind: str, reason: str | None = None) -> None:
    """Tell the parties about one timeline step (in the step's own transaction)."""
    matter = f"「{request.route.name}」"
    asking = request.requesting_department.name
    answering = request.responding_department.name
    result = RESULT_LABELS.get(request.result or "", "")
    deadline = clock.to_local(request.deadline)[:10]
    subject = subject_user_ids(request)
    if kind == "submitted":
        _tell(
            officer_ids(request.responding_department_id),
            request,
            "新的部门协查请求",
            f"{asking}请求核实{matter},请于 {deadline} 前答复。",
        )
        _tell(
            subject,
            request,
            "部门协查已发起",
            f"{asking}已向{answering}发起协查,核实您的{matter},您无需自行开具证明。",
        )
    elif kind == "accepted":
        body = f"{answering}已受理关于{matter}的协查请求。"
        _tell(requester_ids(request) + subject, request, "协查请求已受理", body)
    elif kind == "answered":
        body = f"{answering}已答复关于{matter}的协查:{result}。"
        _tell(requester_ids(request) + subject, request, "协查请求已答复", body)
    elif kind == "answered_from_previous":
        body = f"已依据{answering}此前作出的签章答复即时答复{matter}:{result}。"
        _tell(requester_ids(request) + subject, request, "协查请求已即时答复", body)
    elif kind == "rejected":
        body = f"{answering}退回了关于{matter}的协查请求,原因:{reason or '未说明'}。"
        _tell(requester_ids(request) + subject, request, "协查请求被退回", body)
    elif kind == "withdrawn":
        body = f"{asking}已撤回关于{matter}的协查请求。"
        _tell(
            officer_ids(request.responding_department_id) + subject, request, "协查请求已撤回", body
        )
    elif kind == "overdue":
        _tell(
            officer_ids(request.responding_department_id),
            request,
            "协查请求已逾期,请尽快答复",
            f"{asking}关于{matter}的协查请求已超过答复期限({deadline}),请尽快答复。",
        )
        _tell(
            requester_ids(request),
            request,
            "协查请求已逾期",
            f"{answering}未在期限内答复{matter},已督促办理并报减证便民专班。",
        )
        _tell(
            supervisor_ids(),
            request,
            "协查请求逾期督办",
            f"{answering}未在期限({deadline})内答复{asking}关于{matter}的协查请求。",
        )
        _tell(
            subject,
            request,
            "协查请求已逾期",
            f"关于您的{matter}的协查请求已超过答复期限,已督促{answering}尽快办理。",
        )
    elif kind == "reminder":
        _tell(
            officer_ids(request.responding_department_id),
            request,
            "逾期协查请求催办",
            f"{asking}关于{matter}的协查请求已逾期({deadline}),请尽快答复。",
        )
    elif kind == "due_soon":
        _tell(
            officer_ids(request.responding_department_id),
            request,
            "协查请求即将到期",
            f"{asking}关于{matter}的协查请求将于 {deadline} 到期,请及时答复。",
        )
    else:  # a programming error: every step kind is listed above
        raise ValueError(f"unknown verification step {kind!r}")
