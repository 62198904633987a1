"""Usage records: every time a verifier saw (or tried to see) one of a holder's certificates."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship

from backend.extensions import db
from backend.models.accounts import Person, User
from backend.models.base import UTCDateTime
from backend.models.certificate_types import CertificateType
from backend.models.certificates import Certificate
from backend.models.organisations import Company, Department, VerifierOrganisation

# ok: fields disclosed; revoked | expired | superseded | seal_invalid: reported without
# fields; out_of_scope: the organisation may not see this certificate type (attempt logged).
USAGE_RESULTS = ("ok", "revoked", "expired", "superseded", "seal_invalid", "out_of_scope")


class UsageRecord(db.Model):
    """One certificate in one scan. Field names are kept, never their values.

    Holder, type and issuing department are copied from the certificate so the holder's
    list and the supervision figures need no join through certificates.

    An append-only log: its references carry no foreign-key constraints (only the
    holder's report, ``reported_by_id``, an update, keeps one). Every scan would
    otherwise take a WAL-logged KEY SHARE lock on seven rows, among them the busiest of
    the database (the member, the organisation, the type, the department) and a random
    page of certificates and persons, which every scan then dirtied. Scans write the
    record from rows the same request read, and nothing deletes what it names; the
    references' integrity is tested on the write path.
    """

    __tablename__ = "usage_records"
    __table_args__ = (
        Index("ix_usage_records_person_time", "holder_person_id", "scanned_at"),
        Index("ix_usage_records_company_time", "holder_company_id", "scanned_at"),
        Index("ix_usage_records_organisation_time", "organisation_id", "scanned_at"),
        Index("ix_usage_records_type_time", "type_id", "scanned_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scan_id: Mapped[str] = mapped_column(String(32), index=True)  # groups one scan's records
    code_ref: Mapped[str] = mapped_column(String(32))  # SHA-256 prefix of the code token
    organisation_id: Mapped[int]  # verifier_organisations.id
    member_id: Mapped[int]  # users.id
    shown_by_id: Mapped[int]  # users.id
    certificate_id: Mapped[int]  # certificates.id
    holder_person_id: Mapped[int | None]  # persons.id
    holder_company_id: Mapped[int | None]  # companies.id
    type_id: Mapped[int]  # certificate_types.id
    department_id: Mapped[int]  # departments.id
    fields_disclosed: Mapped[list] = mapped_column(JSON, default=list)
    purpose: Mapped[str] = mapped_column(String(100))
    result: Mapped[str] = mapped_column(String(16))
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The holder's report that this use looks wrong, kept for the supervisor.
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    report_reason: Mapped[str | None] = mapped_column(String(500))
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    organisation: Mapped[VerifierOrganisation] = relationship(
        primaryjoin=lambda: foreign(UsageRecord.organisation_id) == VerifierOrganisation.id
    )
    certificate: Mapped[Certificate] = relationship(
        primaryjoin=lambda: foreign(UsageRecord.certificate_id) == Certificate.id
    )
    type: Mapped[CertificateType] = relationship(
        primaryjoin=lambda: foreign(UsageRecord.type_id) == CertificateType.id
    )
    department: Mapped[Department] = relationship(
        primaryjoin=lambda: foreign(UsageRecord.department_id) == Department.id
    )
    member: Mapped[User] = relationship(
        primaryjoin=lambda: foreign(UsageRecord.member_id) == User.id
    )
    holder_person: Mapped[Person | None] = relationship(
        primaryjoin=lambda: foreign(UsageRecord.holder_person_id) == Person.id
    )
    holder_company: Mapped[Company | None] = relationship(
        primaryjoin=lambda: foreign(UsageRecord.holder_company_id) == Company.id
    )
