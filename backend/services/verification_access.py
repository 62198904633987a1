"""Who may see a verification request, and the lists each viewer gets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from backend.errors import Forbidden, NotFound
from backend.extensions import db
from backend.models import Role, User
from backend.models.verification import VerificationRequest
from backend.services.accounts import companies_of


def get_request(request_id: int) -> VerificationRequest:
    request = db.session.get(VerificationRequest, request_id)
    if request is None:
        raise NotFound("协查请求不存在", code="verification_request_not_found")
    return request


def audience(user: User, request: VerificationRequest) -> str | None:
    """How ``user`` sees a request: ``staff``, ``subject`` or not at all (None)."""
    if user.role == Role.SUPERVISOR:
        return "staff"
    if user.role == Role.DEPARTMENT_OFFICER and user.department_id in (
        request.requesting_department_id,
        request.responding_department_id,
    ):
        return "staff"
    if request.subject_person_id is not None and user.person_id == request.subject_person_id:
        return "subject"
    if request.subject_company_id is not None and request.subject_company_id in {
        c.id for c in companies_of(user)
    }:
        return "subject"
    return None


def view_request(user: User, request_id: int) -> tuple[VerificationRequest, str]:
    """The request and how the user sees it; 403 for anyone not party to it."""
    request = get_request(request_id)
    seen_as = audience(user, request)
    if seen_as is None:
        raise Forbidden("无权查看该协查请求", code="forbidden")
    return request, seen_as


@dataclass
class Page:
    items: list[VerificationRequest]
    total: int
    page: int
    per_page: int


def list_requests(
    user: User,
    *,
    state: str | None = None,
    side: str | None = None,
    overdue: bool | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page:
    """Requests the user may see, newest first: officers their department's (``side``
    ``requesting`` or ``responding`` narrows it), the supervisor all, anyone else the
    requests about themselves and the companies they represent."""
    where: list[Any] = []
    if user.role == Role.SUPERVISOR:
        pass
    elif user.role == Role.DEPARTMENT_OFFICER and user.department_id is not None:
        mine = {
            "requesting": VerificationRequest.requesting_department_id == user.department_id,
            "responding": VerificationRequest.responding_department_id == user.department_id,
        }
        where.append(mine[side] if side else or_(*mine.values()))
    else:
        about_me = []
        if user.person_id is not None:
            about_me.append(VerificationRequest.subject_person_id == user.person_id)
        company_ids = [c.id for c in companies_of(user)]
        if company_ids:
            about_me.append(VerificationRequest.subject_company_id.in_(company_ids))
        if not about_me:
            return Page([], 0, page, per_page)
        where.append(or_(*about_me))
    if state:
        where.append(VerificationRequest.state == state)
    if overdue is not None:
        flagged = VerificationRequest.overdue_at.is_not(None)
        where.append(flagged if overdue else VerificationRequest.overdue_at.is_(None))
    total = db.session.scalar(select(func.count(VerificationRequest.id)).where(*where)) or 0
    items = db.session.scalars(
        select(VerificationRequest)
        .where(*where)
        .options(selectinload(VerificationRequest.events))
        .order_by(VerificationRequest.created_at.desc(), VerificationRequest.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return Page(list(items), total, page, per_page)
