"""Reports of an office that still demanded a proof ("was asked for a proof" complaints).

Citizens and company representatives report; the supervisor (减证便民专班) reads the list.
The body schema lives here so the JSON API and the web form validate the same way.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from backend import clock
from backend.errors import RateLimited, UnprocessableEntity
from backend.extensions import db
from backend.models import Complaint, Department, User
from backend.services.tx import transactional
from backend.validation import ROW_ID, parse_day

# How far back a report may go, and how many one account may file a day (abuse guard).
MAX_AGE_DAYS = 366
DAILY_LIMIT_PER_REPORTER = 10

COMPLAINT_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["office_name", "demanded_material", "occurred_on"],
    "properties": {
        "office_name": {"type": "string", "minLength": 1, "maxLength": 200},
        "demanded_material": {"type": "string", "minLength": 1, "maxLength": 200},
        "occurred_on": {"type": "string", "format": "date"},
        "service_name": {"type": "string", "maxLength": 200},
        "description": {"type": "string", "maxLength": 2000},
        "department_id": ROW_ID,
    },
}


def _today() -> date:
    return clock.now().astimezone(clock.SHANGHAI).date()


def _required_text(value: str, field: str, label: str) -> str:
    value = value.strip()
    if not value:
        raise UnprocessableEntity(f"请填写{label}", code="missing_field", field=field)
    return value


@transactional
def submit_complaint(reporter: User, body: dict[str, Any]) -> Complaint:
    """Store a report validated against ``COMPLAINT_BODY``; dates are Shanghai calendar days."""
    occurred_on = parse_day(body["occurred_on"])
    if occurred_on is None:  # the schema's "date" format refuses it first
        raise UnprocessableEntity("发生日期无效", code="invalid_date", field="occurred_on")
    today = _today()
    if occurred_on > today:
        raise UnprocessableEntity(
            "发生日期不能晚于今天", code="date_in_future", field="occurred_on"
        )
    if occurred_on < today - timedelta(days=MAX_AGE_DAYS):
        raise UnprocessableEntity(
            "仅受理一年内发生的情况", code="date_too_old", field="occurred_on"
        )
    department_id = body.get("department_id")
    if department_id is not None and db.session.get(Department, department_id) is None:
        raise UnprocessableEntity(
            "所选部门不存在", code="unknown_department", field="department_id"
        )
    since = clock.now() - timedelta(days=1)
    recent = db.session.scalar(
        select(func.count(Complaint.id)).where(
            Complaint.reporter_id == reporter.id, Complaint.created_at >= since
        )
    )
    if recent >= DAILY_LIMIT_PER_REPORTER:
        raise RateLimited("今天提交的反映较多,请明天再试")
    complaint = Complaint(
        reporter_id=reporter.id,
        office_name=_required_text(body["office_name"], "office_name", "办事单位"),
        demanded_material=_required_text(
            body["demanded_material"], "demanded_material", "被要求提供的证明"
        ),
        occurred_on=occurred_on,
        service_name=(body.get("service_name") or "").strip() or None,
        description=(body.get("description") or "").strip() or None,
        department_id=department_id,
        status="submitted",
    )
    db.session.add(complaint)
    db.session.flush()
    return complaint


def list_complaints(
    page: int = 1, per_page: int = 20, status: str | None = None
) -> tuple[list[Complaint], int]:
    """Newest first, for the supervisor."""
    where = [Complaint.status == status] if status else []
    total = db.session.scalar(select(func.count(Complaint.id)).where(*where)) or 0
    items = db.session.scalars(
        select(Complaint)
        .where(*where)
        .order_by(Complaint.created_at.desc(), Complaint.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return list(items), total


def complaints_of(reporter: User, limit: int = 50) -> list[Complaint]:
    """A reporter's own reports, newest first."""
    return list(
        db.session.scalars(
            select(Complaint)
            .where(Complaint.reporter_id == reporter.id)
            .order_by(Complaint.created_at.desc(), Complaint.id.desc())
            .limit(limit)
        )
    )


def departments_for_choice() -> list[Department]:
    """Active departments a reporter may name as responsible."""
    return list(
        db.session.scalars(
            select(Department).where(Department.active.is_(True)).order_by(Department.name)
        )
    )


def present_complaint(complaint: Complaint, *, with_reporter: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": complaint.id,
        "office_name": complaint.office_name,
        "department": (
            {"id": complaint.department.id, "name": complaint.department.name}
            if complaint.department
            else None
        ),
        "service_name": complaint.service_name,
        "demanded_material": complaint.demanded_material,
        "occurred_on": complaint.occurred_on.isoformat(),
        "description": complaint.description,
        "status": complaint.status,
        "created_at": clock.to_local(complaint.created_at),
    }
    if with_reporter:
        data["reporter"] = {
            "id": complaint.reporter.id,
            "display_name": complaint.reporter.display_name,
            "role": complaint.reporter.role,
        }
    return data
