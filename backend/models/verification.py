"""Verification requests (部门协查): the routing directory, the requests and their timelines."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.models.accounts import User
from backend.models.base import CreatedMixin, UTCDateTime
from backend.models.certificate_types import CertificateType
from backend.models.certificates import Certificate
from backend.models.organisations import Company, Department

# submitted -> accepted -> answered | rejected; withdrawn by the requester before an answer;
# overdue (from submitted or accepted) when the deadline passes unanswered.
REQUEST_STATES = ("submitted", "accepted", "overdue", "answered", "rejected", "withdrawn")
OPEN_STATES = ("submitted", "accepted", "overdue")
ANSWER_RESULTS = ("confirmed", "not_confirmed")


class VerificationRoute(CreatedMixin, db.Model):
    """One entry of the routing directory: which department answers a proof type, how fast.

    ``code`` is a certificate type code when the proof is a certificate type, otherwise a
    stable identifier of a named matter (``name`` is then the matter, e.g. 从业人员健康合格证明).
    """

    __tablename__ = "verification_routes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    subject_kind: Mapped[str] = mapped_column(String(16))  # person | company
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    certificate_type_id: Mapped[int | None] = mapped_column(ForeignKey("certificate_types.id"))
    deadline_working_days: Mapped[int] = mapped_column(default=3)
    # How long a signed answer stands as a proof that later requests are answered from.
    answer_validity_days: Mapped[int] = mapped_column(default=90)
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    department: Mapped[Department] = relationship()
    certificate_type: Mapped[CertificateType | None] = relationship()


class VerificationRequest(CreatedMixin, db.Model):
    """Office A asks office B to confirm a fact about a citizen or company.

    ``subject_hash`` is the keyed hash of the subject's ID number or credit code: it is
    what the signed answer names, and how a later identical request finds the answer.
    """

    __tablename__ = "verification_requests"
    __table_args__ = (
        Index("ix_verification_requests_reuse", "subject_hash", "proof_type", "question_digest"),
        Index("ix_verification_requests_state_deadline", "state", "deadline"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("verification_routes.id"))
    proof_type: Mapped[str] = mapped_column(String(64))  # the route code when asked
    requesting_department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    responding_department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    subject_kind: Mapped[str] = mapped_column(String(16))  # person | company
    subject_person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)
    subject_company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"), index=True)
    subject_hash: Mapped[str] = mapped_column(String(64))
    question: Mapped[str] = mapped_column(Text)
    question_digest: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(200))
    legal_basis: Mapped[str] = mapped_column(String(200))
    related_application_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="submitted")
    deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_soon_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rejection_reason: Mapped[str | None] = mapped_column(String(500))
    # The answer, and the responding department's seal over it.
    result: Mapped[str | None] = mapped_column(String(16))
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    seal_key_id: Mapped[str | None] = mapped_column(String(64))
    seal_algorithm: Mapped[str | None] = mapped_column(String(16))
    seal_signature: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Set when the request was answered at once from an earlier signed answer.
    answered_from_id: Mapped[int | None] = mapped_column(ForeignKey("verification_requests.id"))
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"))

    route: Mapped[VerificationRoute] = relationship()
    requesting_department: Mapped[Department] = relationship(
        foreign_keys=[requesting_department_id]
    )
    responding_department: Mapped[Department] = relationship(
        foreign_keys=[responding_department_id]
    )
    subject_company: Mapped[Company | None] = relationship()
    answered_from: Mapped[VerificationRequest | None] = relationship(remote_side=[id])
    certificate: Mapped[Certificate | None] = relationship()
    events: Mapped[list[VerificationEvent]] = relationship(
        back_populates="request",
        order_by="VerificationEvent.id",
        cascade="all, delete-orphan",
    )


class VerificationEvent(CreatedMixin, db.Model):
    """One step on a request's timeline: who, when, what, with an optional note.

    ``internal`` events (officers' notes, reminders) are never shown to the subject.
    """

    __tablename__ = "verification_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("verification_requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))  # the request's state after the step
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: system
    actor_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    note: Mapped[str | None] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(default=False)

    request: Mapped[VerificationRequest] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()
    actor_department: Mapped[Department | None] = relationship()
