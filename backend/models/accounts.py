"""People and the accounts they log in with."""

from __future__ import annotations

import enum

from flask_login import UserMixin
from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.models.base import CreatedMixin
from backend.models.organisations import Company, Department, VerifierOrganisation


class Role(enum.StrEnum):
    CITIZEN = "citizen"
    COMPANY_REPRESENTATIVE = "company_representative"
    VERIFIER_MEMBER = "verifier_member"
    DEPARTMENT_OFFICER = "department_officer"
    THEME_ADMINISTRATOR = "theme_administrator"
    SUPERVISOR = "supervisor"
    SYSTEM_ADMINISTRATOR = "system_administrator"


ROLE_LABELS = {
    Role.CITIZEN: "市民",
    Role.COMPANY_REPRESENTATIVE: "企业代表",
    Role.VERIFIER_MEMBER: "用证单位人员",
    Role.DEPARTMENT_OFFICER: "部门工作人员",
    Role.THEME_ADMINISTRATOR: "主题管理员",
    Role.SUPERVISOR: "减证便民专班",
    Role.SYSTEM_ADMINISTRATOR: "系统管理员",
}


PERSON_NAME_LENGTH = 50  # inputs that may create a person check against this


class Person(CreatedMixin, db.Model):
    """A natural person; the ID number is stored encrypted and found through a keyed hash."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(PERSON_NAME_LENGTH))
    id_number_cipher: Mapped[bytes] = mapped_column(LargeBinary)
    id_number_hash: Mapped[str] = mapped_column(String(64), unique=True)
    phone_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)


class User(UserMixin, CreatedMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(256))
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32), default=Role.CITIZEN)
    wechat_openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    verifier_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("verifier_organisations.id"), index=True
    )
    is_demo: Mapped[bool] = mapped_column(default=False)
    enabled: Mapped[bool] = mapped_column(default=True)

    person: Mapped[Person | None] = relationship()
    department: Mapped[Department | None] = relationship()
    verifier_organisation: Mapped[VerifierOrganisation | None] = relationship()
    companies: Mapped[list[Company]] = relationship(
        secondary="company_representatives", viewonly=True
    )

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.enabled

    def has_role(self, *roles: str) -> bool:
        return self.role in roles


class CompanyRepresentative(CreatedMixin, db.Model):
    """A user who may act for a company (legal representative or authorised agent)."""

    __tablename__ = "company_representatives"
    __table_args__ = (UniqueConstraint("user_id", "company_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    capacity: Mapped[str] = mapped_column(String(32), default="legal_representative")
