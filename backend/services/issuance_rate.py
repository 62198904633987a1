"""The effective issuance rate (有效制发率) for supervision, against the 80 % target.

A certificate counts as issued in sync when its electronic version appeared within the
type's published issuing cycle after the paper one, or when it was born electronic (no
paper at all); ``Certificate.issued_in_sync`` fixes that at issuance. Only first versions
count (a reissue is not a new issuance). The period, when given, is on the issuance day
(paper day, or electronic day when there was no paper), in Asia/Shanghai.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select

from backend import clock
from backend.extensions import db
from backend.models import Certificate, Department

TARGET = 0.8


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=clock.SHANGHAI)


def _in_period(since: date | None, until: date | None):
    clauses = []
    for column_is_paper in (True, False):
        moment = (
            Certificate.paper_issued_at if column_is_paper else Certificate.electronic_issued_at
        )
        parts = [
            Certificate.paper_issued_at.is_not(None)
            if column_is_paper
            else Certificate.paper_issued_at.is_(None)
        ]
        if since is not None:
            parts.append(moment >= _start_of(since))
        if until is not None:
            parts.append(moment < _start_of(until + timedelta(days=1)))
        clauses.append(and_(*parts))
    return or_(*clauses)


def _figure(total: int, in_sync: int, paper: int) -> dict[str, Any]:
    rate = round(in_sync / total, 4) if total else None
    return {
        "certificates": total,
        "in_sync": in_sync,
        "late": total - in_sync,
        "with_paper": paper,
        "electronic_only": total - paper,
        "rate": rate,
        "meets_target": rate is not None and rate >= TARGET,
    }


def effective_issuance_rate(since: date | None = None, until: date | None = None) -> dict:
    """City-wide and per-department figures, the departments furthest below target first."""
    rows = db.session.execute(
        select(
            Certificate.department_id,
            func.count(Certificate.id),
            func.sum(case((Certificate.issued_in_sync.is_(True), 1), else_=0)),
            func.sum(case((Certificate.paper_issued_at.is_not(None), 1), else_=0)),
        )
        .where(Certificate.version == 1, _in_period(since, until))
        .group_by(Certificate.department_id)
    ).all()
    departments = {
        d.id: d
        for d in db.session.scalars(
            select(Department).where(Department.id.in_([r[0] for r in rows]))
        )
    }
    per_department = [
        {
            "department": {"code": departments[dept_id].code, "name": departments[dept_id].name},
            **_figure(int(total), int(in_sync or 0), int(paper or 0)),
        }
        for dept_id, total, in_sync, paper in rows
    ]
    per_department.sort(key=lambda d: (d["rate"] is None, d["rate"] or 0, d["department"]["code"]))
    totals = [sum(int(r[i] or 0) for r in rows) for i in (1, 2, 3)]
    return {
        "target": TARGET,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "city": _figure(*totals),
        "departments": per_department,
    }
