"""Batch imports of historic (paper) certificates: who imported which file, and the outcome."""

from __future__ import annotations

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.models.base import CreatedMixin


class CertificateImport(CreatedMixin, db.Model):
    """One accepted import run; a rejected file leaves no row (nothing was imported).

    ``report`` keeps the per-row outcome that is not a certificate: expired rows, rows
    already imported earlier, and the bad rows skipped on request (row, field, code).
    """

    __tablename__ = "certificate_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    type_id: Mapped[int] = mapped_column(ForeignKey("certificate_types.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: command line
    filename: Mapped[str] = mapped_column(String(200))
    file_digest: Mapped[str] = mapped_column(String(64))  # SHA-256 hex of the uploaded bytes
    rows_total: Mapped[int] = mapped_column(default=0)
    imported: Mapped[int] = mapped_column(default=0)
    already_imported: Mapped[int] = mapped_column(default=0)
    expired: Mapped[int] = mapped_column(default=0)
    skipped_bad: Mapped[int] = mapped_column(default=0)
    report: Mapped[dict] = mapped_column(JSON, default=dict)
