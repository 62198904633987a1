"""Figures for supervision: how fast each responding department answers, how often late.

Answer time is wall-clock hours from submission to the department's answer; answers given
at once from an earlier signed answer are counted apart and left out of the times. A
request counts as overdue when it was flagged, when the department answered or rejected it
after the deadline, or when it is still open past the deadline.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from backend import clock
from backend.extensions import db
from backend.models import Department
from backend.models.verification import OPEN_STATES, VerificationRequest


def percentile(values: list[float], q: int) -> float | None:
    """The q-th percentile, linearly interpolated between closest ranks (like NumPy's default)."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


@dataclass
class _Tally:
    received: int = 0
    answered: int = 0
    answered_from_previous: int = 0
    rejected: int = 0
    withdrawn: int = 0
    open: int = 0
    overdue: int = 0
    overdue_open: int = 0
    hours: list[float] = field(default_factory=list)

    def add(self, request: VerificationRequest, now: datetime) -> None:
        self.received += 1
        late_open = request.state in OPEN_STATES and request.deadline < now
        late_answer = (
            request.state in ("answered", "rejected")
            and request.answered_from_id is None
            and request.closed_at is not None
            and request.closed_at > request.deadline
        )
        if request.overdue_at is not None or late_open or late_answer:
            self.overdue += 1
        if late_open:
            self.overdue_open += 1
        if request.state in OPEN_STATES:
            self.open += 1
        elif request.state == "answered" and request.answered_from_id is not None:
            self.answered_from_previous += 1
        elif request.state == "answered":
            self.answered += 1
            seconds = (request.answered_at - request.created_at).total_seconds()
            self.hours.append(seconds / 3600)
        elif request.state == "rejected":
            self.rejected += 1
        elif request.state == "withdrawn":
            self.withdrawn += 1

    def figures(self) -> dict[str, Any]:
        median = statistics.median(self.hours) if self.hours else None
        p90 = percentile(self.hours, 90)
        return {
            "received": self.received,
            "answered": self.answered,
            "answered_from_previous": self.answered_from_previous,
            "rejected": self.rejected,
            "withdrawn": self.withdrawn,
            "open": self.open,
            "overdue": self.overdue,
            "overdue_open": self.overdue_open,
            "answer_hours_median": round(median, 2) if median is not None else None,
            "answer_hours_p90": round(p90, 2) if p90 is not None else None,
        }


def _local_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=clock.SHANGHAI)


def verification_figures(since: date | None = None, until: date | None = None) -> dict[str, Any]:
    """Per responding department and in total, for requests submitted in [since, until]
    (local dates, both inclusive; open-ended when not given)."""
    now = clock.now()
    query = select(VerificationRequest).order_by(VerificationRequest.id)
    if since is not None:
        query = query.where(VerificationRequest.created_at >= _local_start(since))
    if until is not None:
        query = query.where(
            VerificationRequest.created_at < _local_start(until + timedelta(days=1))
        )
    per_department: dict[int, _Tally] = defaultdict(_Tally)
    total = _Tally()
    for request in db.session.scalars(query):
        per_department[request.responding_department_id].add(request, now)
        total.add(request, now)
    departments = {
        d.id: d
        for d in db.session.scalars(
            select(Department).where(Department.id.in_(list(per_department)))
        )
    }
    rows = [
        {
            "department": {"id": d.id, "code": d.code, "name": d.name},
            **per_department[d.id].figures(),
        }
        for d in sorted(departments.values(), key=lambda d: d.code)
    ]
    return {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "computed_at": clock.to_local(now),
        "departments": rows,
        "total": total.figures(),
    }
