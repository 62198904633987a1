"""Reports by citizens and companies of an office that still demanded a proof."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.models.accounts import User
from backend.models.base import CreatedMixin, UTCDateTime
from backend.models.organisations import Department

COMPLAINT_STATES = ("submitted", "handled")


class Complaint(CreatedMixin, db.Model):
    """One report, kept for the supervisor (减证便民专班) to follow up."""

    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    office_name: Mapped[str] = mapped_column(String(200))
    # The responsible department when the reporter could name it from the list.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    service_name: Mapped[str | None] = mapped_column(String(200))
    demanded_material: Mapped[str] = mapped_column(String(200))
    occurred_on: Mapped[date] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    reporter: Mapped[User] = relationship()
    department: Mapped[Department | None] = relationship()
