"""Issued electronic certificates and the seals on them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, LargeBinary, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.models.base import CreatedMixin, UTCDateTime
from backend.models.certificate_types import CertificateType

# valid | revoked | superseded. "expired" is not stored: it follows from expires_on.
CERTIFICATE_STATES = ("valid", "revoked", "superseded")


class Certificate(CreatedMixin, db.Model):
    """One version of a certificate.

    ``payload_cipher`` holds the exact canonical bytes that were signed (fields, holder,
    dates, serial), encrypted: they contain ID numbers. Columns beside it repeat what
    queries need and are checked against the payload when a certificate is verified.
    """

    __tablename__ = "certificates"
    __table_args__ = (
        Index("ix_certificates_person_type", "holder_person_id", "type_id"),
        Index("ix_certificates_company_type", "holder_company_id", "type_id"),
        Index("ix_certificates_type_expiry", "type_id", "expires_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(40), unique=True)
    type_id: Mapped[int] = mapped_column(ForeignKey("certificate_types.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    holder_person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    holder_company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"))
    payload_cipher: Mapped[bytes] = mapped_column(LargeBinary)
    payload_digest: Mapped[str] = mapped_column(String(64))  # SHA-256 hex of the signed bytes
    status: Mapped[str] = mapped_column(String(16), default="valid")
    issued_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    paper_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    electronic_issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(default=1)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"))
    source: Mapped[str] = mapped_column(String(16), default="issued")  # issued | imported
    # Natural key of an imported paper certificate, so re-importing a file adds nothing.
    source_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revocation_reason: Mapped[str | None] = mapped_column(String(200))
    # Electronic issued within the type's issuing cycle after the paper one (or with no
    # paper at all): the numerator of the effective issuance rate, fixed when issued.
    issued_in_sync: Mapped[bool] = mapped_column(default=True, server_default=true())
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    import_id: Mapped[int | None] = mapped_column(ForeignKey("certificate_imports.id"))

    type: Mapped[CertificateType] = relationship()
    seals: Mapped[list[CertificateSeal]] = relationship(
        back_populates="certificate", cascade="all, delete-orphan", order_by="CertificateSeal.id"
    )


class CertificateSeal(db.Model):
    """One department's signature over a certificate's canonical bytes (joint issuance: many)."""

    __tablename__ = "certificate_seals"
    __table_args__ = (UniqueConstraint("certificate_id", "department_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    key_id: Mapped[str] = mapped_column(String(64))
    algorithm: Mapped[str] = mapped_column(String(16))
    signature: Mapped[bytes] = mapped_column(LargeBinary)

    certificate: Mapped[Certificate] = relationship(back_populates="seals")


class SerialCounter(db.Model):
    """Last sequence number used per (type, department, year); rows are locked to allocate."""

    __tablename__ = "serial_counters"
    __table_args__ = (UniqueConstraint("type_id", "department_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    type_id: Mapped[int] = mapped_column(ForeignKey("certificate_types.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    year: Mapped[int] = mapped_column()
    last: Mapped[int] = mapped_column(default=0)
