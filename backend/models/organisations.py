"""Departments (issuing offices), companies (certificate holders) and verifier organisations."""

from __future__ import annotations

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.models.base import CreatedMixin


class Department(CreatedMixin, db.Model):
    """A government office that issues certificates and answers verification requests."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    region: Mapped[str] = mapped_column(String(50), default="全市")
    # Set when the department is reorganised: the successor takes over its types.
    successor_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    active: Mapped[bool] = mapped_column(default=True)

    successor: Mapped[Department | None] = relationship(remote_side=[id])


class Company(CreatedMixin, db.Model):
    """A legal entity that holds certificates, identified by its unified social credit code."""

    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)


class VerifierOrganisation(CreatedMixin, db.Model):
    """A business or service counter whose members scan citizens' codes.

    ``scope`` maps certificate type codes to the field names the organisation may see,
    set by the supervisor (selective disclosure).
    """

    __tablename__ = "verifier_organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="business")  # business | counter
    credit_code: Mapped[str | None] = mapped_column(String(18))
    scope: Mapped[dict] = mapped_column(JSON, default=dict)
