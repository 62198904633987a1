"""The routing directory of verification requests, and working-day deadlines.

A proof type (a certificate type code, or a named matter such as 从业人员健康合格证明) is
routed to the department that answers it, with a deadline in working days. Working days
skip Saturdays, Sundays and the public holidays listed in ``VERIFICATION_HOLIDAYS``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import or_, select

from backend import clock
from backend.errors import Conflict, NotFound, UnprocessableEntity
from backend.extensions import db
from backend.models import CertificateType, Department
from backend.models.verification import VerificationRoute
from backend.services.tx import transactional

DEFAULT_DEADLINE_WORKING_DAYS = 3
DEFAULT_ANSWER_VALIDITY_DAYS = 90
SUBJECT_KINDS = ("person", "company")
END_OF_DAY = time(23, 59, 59)


# --- working days ----------------------------------------------------------------------------


def parse_holidays(value: str | list | tuple | None) -> frozenset[date]:
    """``"2026-10-01,2026-10-02"`` (or a list of dates/strings) as a set of dates."""
    if not value:
        return frozenset()
    items = value.split(",") if isinstance(value, str) else list(value)
    days = set()
    for item in items:
        if isinstance(item, date):
            days.add(item)
            continue
        text = str(item).strip()
        if not text:
            continue
        try:
            days.add(date.fromisoformat(text))
        except ValueError as exc:
            raise ValueError(f"VERIFICATION_HOLIDAYS: not a YYYY-MM-DD date: {text!r}") from exc
    return frozenset(days)


def configured_holidays() -> frozenset[date]:
    return parse_holidays(current_app.config.get("VERIFICATION_HOLIDAYS"))


def is_working_day(day: date, holidays: frozenset[date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_working_days(start: date, count: int, holidays: frozenset[date]) -> date:
    """The ``count``-th working day after ``start`` (the day of submission is not counted)."""
    day = start
    remaining = count
    while remaining > 0:
        day += timedelta(days=1)
        if is_working_day(day, holidays):
            remaining -= 1
    return day


def end_of_local_day(day: date) -> datetime:
    """23:59:59 Asia/Shanghai on ``day``, as aware UTC."""
    return datetime.combine(day, END_OF_DAY, tzinfo=clock.SHANGHAI).astimezone(UTC)


def local_today() -> date:
    return clock.now().astimezone(clock.SHANGHAI).date()


def default_deadline(route: VerificationRoute, submitted_at: datetime) -> datetime:
    """End of the route's N-th working day after the (local) day of submission."""
    submitted_on = submitted_at.astimezone(clock.SHANGHAI).date()
    due = add_working_days(submitted_on, route.deadline_working_days, configured_holidays())
    return end_of_local_day(due)


# --- the directory ---------------------------------------------------------------------------


def find_route(proof_type: str, field: str = "proof_type") -> VerificationRoute:
    """The active route for a proof type given by code or by name, or 422."""
    key = (proof_type or "").strip()
    route = db.session.scalar(
        select(VerificationRoute).where(
            VerificationRoute.active.is_(True),
            or_(VerificationRoute.code == key, VerificationRoute.name == key),
        )
    )
    if route is None:
        raise UnprocessableEntity(
            f"协查目录中没有该证明事项:{key}", code="unknown_proof_type", field=field
        )
    return route


def list_routes(include_inactive: bool = False) -> list[VerificationRoute]:
    query = select(VerificationRoute).order_by(VerificationRoute.code)
    if not include_inactive:
        query = query.where(VerificationRoute.active.is_(True))
    return list(db.session.scalars(query))


def _department(code: str) -> Department:
    department = db.session.scalar(select(Department).where(Department.code == code))
    if department is None:
        raise UnprocessableEntity("部门不存在", code="unknown_department", field="department")
    return department


def _certificate_type(code: str) -> CertificateType:
    cert_type = db.session.scalar(select(CertificateType).where(CertificateType.code == code))
    if cert_type is None:
        raise UnprocessableEntity(
            "证照类型不存在", code="unknown_certificate_type", field="certificate_type"
        )
    return cert_type


def _check_unique(code: str | None, name: str | None, route_id: int | None = None) -> None:
    for column, value, field in (
        (VerificationRoute.code, code, "code"),
        (VerificationRoute.name, name, "name"),
    ):
        if value is None:
            continue
        found = db.session.scalar(select(VerificationRoute.id).where(column == value))
        if found is not None and found != route_id:
            raise Conflict("协查目录中已有同名或同编码的事项", code="route_exists", field=field)


@transactional
def create_route(
    *,
    code: str,
    name: str,
    subject_kind: str | None = None,
    department_code: str | None = None,
    certificate_type_code: str | None = None,
    deadline_working_days: int = DEFAULT_DEADLINE_WORKING_DAYS,
    answer_validity_days: int = DEFAULT_ANSWER_VALIDITY_DAYS,
) -> VerificationRoute:
    """Add a directory entry. A certificate type gives the default department and subject kind."""
    cert_type = _certificate_type(certificate_type_code) if certificate_type_code else None
    if department_code:
        department = _department(department_code)
    elif cert_type is not None:
        department = cert_type.department
    else:
        raise UnprocessableEntity("请指定答复部门", code="missing_field", field="department")
    subject_kind = subject_kind or (cert_type.holder_kind if cert_type else None)
    if subject_kind not in SUBJECT_KINDS:
        raise UnprocessableEntity(
            "请指定协查对象类型(person 或 company)", code="invalid_value", field="subject_kind"
        )
    if cert_type is not None and cert_type.holder_kind != subject_kind:
        raise UnprocessableEntity(
            "协查对象类型与证照类型的持证主体不一致",
            code="subject_kind_mismatch",
            field="subject_kind",
        )
    _check_unique(code, name)
    route = VerificationRoute(
        code=code,
        name=name,
        subject_kind=subject_kind,
        department_id=department.id,
        certificate_type_id=cert_type.id if cert_type else None,
        deadline_working_days=deadline_working_days,
        answer_validity_days=answer_validity_days,
        active=True,
    )
    db.session.add(route)
    db.session.flush()
    return route


@transactional
def update_route(route_id: int, changes: dict[str, Any]) -> VerificationRoute:
    """Edit name, department, deadline, validity or active flag of a directory entry."""
    route = db.session.get(VerificationRoute, route_id)
    if route is None:
        raise NotFound("协查目录条目不存在", code="route_not_found")
    if "name" in changes:
        _check_unique(None, changes["name"], route.id)
        route.name = changes["name"]
    if "department" in changes:
        route.department_id = _department(changes["department"]).id
    for key in ("deadline_working_days", "answer_validity_days", "active"):
        if key in changes:
            setattr(route, key, changes[key])
    route.updated_at = clock.now()
    return route


def present_route(route: VerificationRoute) -> dict[str, Any]:
    return {
        "id": route.id,
        "code": route.code,
        "name": route.name,
        "subject_kind": route.subject_kind,
        "department": {
            "id": route.department.id,
            "code": route.department.code,
            "name": route.department.name,
        },
        "certificate_type": route.certificate_type.code if route.certificate_type else None,
        "deadline_working_days": route.deadline_working_days,
        "answer_validity_days": route.answer_validity_days,
        "active": route.active,
    }
