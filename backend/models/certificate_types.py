"""Certificate types: what a department issues and the ordered field schema of each."""

from __future__ import annotations

import os
from datetime import date

from sqlalchemy import JSON, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.models.base import CreatedMixin
from backend.models.organisations import Department

FIELD_TYPES = ("text", "date", "enum", "number", "id_number", "credit_code")


def new_revision() -> str:
    """A random token, never reused: a row recreated under an old id gets a new one too."""
    return os.urandom(8).hex()


class CertificateType(CreatedMixin, db.Model):
    """``fields`` is an ordered list of ``{name, type, required, max_length?, options?}``."""

    __tablename__ = "certificate_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # licence | proof
    holder_kind: Mapped[str] = mapped_column(String(16))  # person | company
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    validity_years: Mapped[int] = mapped_column(default=0)  # 0: no fixed validity
    fields: Mapped[list] = mapped_column(JSON, default=list)
    rank: Mapped[int | None] = mapped_column()  # among the most used types, 1 = most used
    # Joint issuance: departments (ids) whose seals are required besides the issuer's.
    joint_department_ids: Mapped[list] = mapped_column(JSON, default=list)
    # The public issuance list (发证清单): electronic since when, where, and how many days
    # after the paper certificate the electronic one appears (0: the same day).
    electronic_since: Mapped[date | None] = mapped_column(Date)
    region: Mapped[str] = mapped_column(String(50), default="全市")
    issuing_cycle_days: Mapped[int] = mapped_column(default=0)

    # Changes on every UPDATE of the row (ORM or Core): workers that cache a type for
    # issuing check it in the statement that stores a certificate (certificate_issuing).
    revision: Mapped[str] = mapped_column(
        String(16), default=new_revision, onupdate=new_revision, server_default="0"
    )

    department: Mapped[Department] = relationship()

    def field_names(self) -> list[str]:
        return [f["name"] for f in self.fields]
