"""Usage records as each party sees them, the holder's report, and figures for supervision."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from backend import clock
from backend.errors import Conflict, NotFound
from backend.extensions import db
from backend.models import CertificateType, Department, Role, UsageRecord, User
from backend.security.crypto import mask_name
from backend.services.accounts import companies_of
from backend.services.tx import transactional

TOP_TYPES = 50
HOLDER_ROLES = (Role.CITIZEN, Role.COMPANY_REPRESENTATIVE)


def _holder_clause(user: User):
    clauses = []
    if user.person_id is not None:
        clauses.append(UsageRecord.holder_person_id == user.person_id)
    company_ids = [c.id for c in companies_of(user)]
    if company_ids:
        clauses.append(UsageRecord.holder_company_id.in_(company_ids))
    return or_(*clauses) if clauses else None


def _holder_name(record: UsageRecord) -> str:
    if record.holder_company is not None:
        return record.holder_company.name  # a company's name is public
    return mask_name(record.holder_person.name) if record.holder_person else ""


def _present(record: UsageRecord, viewer_role: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": record.id,
        "scan_id": record.scan_id,
        "scanned_at": clock.to_local(record.scanned_at),
        "organisation": {"id": record.organisation_id, "name": record.organisation.name},
        "certificate": {
            "id": record.certificate_id,
            "type": {"code": record.type.code, "name": record.type.name},
            "serial": record.certificate.serial,
        },
        "fields_disclosed": record.fields_disclosed,
        "purpose": record.purpose,
        "result": record.result,
        "reported": (
            {"at": clock.to_local(record.reported_at), "reason": record.report_reason}
            if record.reported_at
            else None
        ),
    }
    if viewer_role != Role.CITIZEN and viewer_role != Role.COMPANY_REPRESENTATIVE:
        data["member"] = {"id": record.member_id, "name": record.member.display_name}
        data["holder_name"] = _holder_name(record)
    return data


def list_usage_records(
    user: User,
    page: int = 1,
    per_page: int = 20,
    reported: bool | None = None,
    certificate_id: int | None = None,
) -> dict[str, Any]:
    """Holder: uses of my certificates. Verifier: my organisation's scans. Supervisor: all."""
    query = select(UsageRecord)
    if user.role in HOLDER_ROLES:
        clause = _holder_clause(user)
        if clause is None:
            return {"items": [], "total": 0, "page": page, "per_page": per_page}
        query = query.where(clause)
    elif user.role == Role.VERIFIER_MEMBER:
        query = query.where(UsageRecord.organisation_id == user.verifier_organisation_id)
    if reported is not None:
        query = query.where(
            UsageRecord.reported_at.is_not(None) if reported else UsageRecord.reported_at.is_(None)
        )
    if certificate_id is not None:
        query = query.where(UsageRecord.certificate_id == certificate_id)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    records = db.session.scalars(
        query.options(
            joinedload(UsageRecord.organisation),
            joinedload(UsageRecord.type),
            joinedload(UsageRecord.certificate),
            joinedload(UsageRecord.member),
            joinedload(UsageRecord.holder_person),
            joinedload(UsageRecord.holder_company),
        )
        .order_by(UsageRecord.scanned_at.desc(), UsageRecord.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return {
        "items": [_present(r, user.role) for r in records],
        "total": total,
        "page": page,
        "per_page": per_page,
    }


@transactional
def report_usage_record(user: User, record_id: int, reason: str) -> dict[str, Any]:
    """The holder marks a use as suspicious; the supervisor sees it among reported records."""
    clause = _holder_clause(user)
    record = (
        db.session.scalar(
            select(UsageRecord).where(UsageRecord.id == record_id, clause).with_for_update()
        )
        if clause is not None
        else None
    )
    if record is None:
        raise NotFound("用证记录不存在", code="usage_record_not_found")
    if record.reported_at is not None:
        raise Conflict("该记录已举报", code="already_reported")
    record.reported_at = clock.now()
    record.report_reason = reason.strip()[:500]
    record.reported_by_id = user.id
    db.session.flush()
    return _present(record, user.role)


def _day_bounds(since: date | None, until: date | None) -> list:
    clauses = []
    if since is not None:
        start = datetime.combine(since, time.min, clock.SHANGHAI)
        clauses.append(UsageRecord.scanned_at >= start)
    if until is not None:
        end = datetime.combine(until + timedelta(days=1), time.min, clock.SHANGHAI)
        clauses.append(UsageRecord.scanned_at < end)
    return clauses


def usage_figures(since: date | None = None, until: date | None = None) -> dict[str, Any]:
    """Successful uses of the 50 most used certificate types, and per issuing department.

    The 50 ranked types are always listed (a key type nobody uses is a finding too);
    other types appear when their use puts them among the 50.
    """
    where = [UsageRecord.result == "ok", *_day_bounds(since, until)]
    uses_by_type = dict(
        db.session.execute(
            select(UsageRecord.type_id, func.count()).where(*where).group_by(UsageRecord.type_id)
        ).all()
    )
    types = db.session.scalars(
        select(CertificateType)
        .options(joinedload(CertificateType.department))
        .where(or_(CertificateType.rank.is_not(None), CertificateType.id.in_(list(uses_by_type))))
    ).all()
    ranked = sorted(types, key=lambda t: (-uses_by_type.get(t.id, 0), t.rank or 10_000, t.id))
    by_department = db.session.execute(
        select(Department.code, Department.name, func.count())
        .join(UsageRecord, UsageRecord.department_id == Department.id)
        .where(*where)
        .group_by(Department.id, Department.code, Department.name)
        .order_by(func.count().desc(), Department.code)
    ).all()
    return {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "total": sum(uses_by_type.values()),
        "types": [
            {
                "code": t.code,
                "name": t.name,
                "rank": t.rank,
                "department": {"code": t.department.code, "name": t.department.name},
                "uses": uses_by_type.get(t.id, 0),
            }
            for t in ranked[:TOP_TYPES]
        ],
        "departments": [
            {"code": code, "name": name, "uses": uses} for code, name, uses in by_department
        ],
    }
