"""The overdue sweep: run periodically (``flask verification-sweep``, e.g. every 15 minutes).

It flags requests whose deadline has passed unanswered (reminding the responder and
escalating to the supervisor), reminds the responder of still-overdue requests once a
day, and warns of requests due within a day. Times come from ``clock.now()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from backend import clock
from backend.errors import Conflict
from backend.extensions import db
from backend.models.verification import VerificationRequest
from backend.services import verification as service
from backend.services.tx import transactional
from backend.services.verification_notify import notify_step

REMINDER_INTERVAL = timedelta(hours=24)
DUE_SOON_WINDOW = timedelta(hours=24)


@dataclass
class SweepReport:
    flagged: list[int] = field(default_factory=list)
    reminded: list[int] = field(default_factory=list)
    due_soon: list[int] = field(default_factory=list)


def _locked(*where) -> list[VerificationRequest]:
    """Rows to act on, locked; rows another sweep holds are skipped (PostgreSQL)."""
    return list(
        db.session.scalars(
            select(VerificationRequest)
            .where(*where)
            .order_by(VerificationRequest.id)
            .with_for_update(skip_locked=True)
        )
    )


@transactional
def sweep_overdue(now: datetime | None = None) -> SweepReport:
    """One pass over open requests; safe to run often and concurrently."""
    now = now or clock.now()
    report = SweepReport()
    for request in _locked(
        VerificationRequest.state.in_(("submitted", "accepted")),
        VerificationRequest.deadline < now,
    ):
        try:
            service.mark_overdue(request, now)
        except Conflict:  # answered or withdrawn a moment ago
            continue
        report.flagged.append(request.id)
    for request in _locked(
        VerificationRequest.state == "overdue",
        VerificationRequest.last_reminded_at <= now - REMINDER_INTERVAL,
    ):
        request.last_reminded_at = now
        service.add_event(request, "reminder", note="逾期未答复,已再次催办。", internal=True)
        notify_step(request, "reminder")
        report.reminded.append(request.id)
    for request in _locked(
        VerificationRequest.state.in_(("submitted", "accepted")),
        VerificationRequest.deadline >= now,
        VerificationRequest.deadline < now + DUE_SOON_WINDOW,
        VerificationRequest.due_soon_reminded_at.is_(None),
    ):
        request.due_soon_reminded_at = now
        service.add_event(
            request, "due_soon", note="将在一天内到期,已提醒答复部门。", internal=True
        )
        notify_step(request, "due_soon")
        report.due_soon.append(request.id)
    return report
