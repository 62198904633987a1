"""Theme bundles (主题式集成服务): versions, consents, applications and their parts.

A bundle is the stable identity; its content lives in immutable numbered versions (every
edit adds one), so an application keeps exactly the version it was made against. An
application splits into one part per service item, each routed to the item's department.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend import clock
from backend.extensions import db
from backend.models.accounts import User
from backend.models.base import CreatedMixin, UTCDateTime
from backend.models.organisations import Department
from backend.models.service_items import ServiceItem, ServiceItemVersion

# draft: never published; published: the public sees ``published_number``; unpublished.
BUNDLE_STATES = ("draft", "published", "unpublished")
CONSENT_STATES = ("active", "withdrawn", "used")
PART_STATES = (
    "submitted",
    "accepted",
    "correction_requested",
    "resubmitted",
    "approved",
    "rejected",
)


class ThemeBundle(CreatedMixin, db.Model):
    """The stable identity of a bundle; ``latest_number`` is the working copy."""

    __tablename__ = "theme_bundles"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stable key for seeded bundles, e.g. "open_restaurant".
    code: Mapped[str | None] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    latest_number: Mapped[int] = mapped_column(Integer, default=1)
    published_number: Mapped[int | None] = mapped_column(Integer)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    versions: Mapped[list[ThemeBundleVersion]] = relationship(
        back_populates="bundle", order_by="ThemeBundleVersion.number"
    )


class ThemeBundleVersion(CreatedMixin, db.Model):
    """One immutable version: title, summary, icon, ordered items, the unified form.

    ``service_item_ids`` is the ordered list of item ids. ``form_fields`` is an ordered list
    of ``{label, source, required, type}``; ``source`` is ``"type_code.field name"`` for a
    field read from a certificate, or None for one the applicant fills in.
    """

    __tablename__ = "theme_bundle_versions"
    __table_args__ = (UniqueConstraint("bundle_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bundle_id: Mapped[int] = mapped_column(ForeignKey("theme_bundles.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(100))
    summary: Mapped[str] = mapped_column(Text, default="")
    icon: Mapped[str] = mapped_column(String(64), default="")
    service_item_ids: Mapped[list] = mapped_column(JSON, default=list)
    form_fields: Mapped[list] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    bundle: Mapped[ThemeBundle] = relationship(back_populates="versions")


class ThemeConsent(CreatedMixin, db.Model):
    """A holder's agreement that these certificates and fields may fill this bundle's form.

    ``fields`` lists ``"type_code.field name"`` read for the form; ``certificate_ids`` the
    certificates shown at consent time (form fields and exempt materials). ``used`` once an
    application was submitted with it; only an unused consent can be withdrawn.
    """

    __tablename__ = "theme_consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    bundle_id: Mapped[int] = mapped_column(ForeignKey("theme_bundles.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("theme_bundle_versions.id"))
    certificate_ids: Mapped[list] = mapped_column(JSON, default=list)
    fields: Mapped[list] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(16), default="active")
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    bundle: Mapped[ThemeBundle] = relationship()
    version: Mapped[ThemeBundleVersion] = relationship()


class ThemeApplication(CreatedMixin, db.Model):
    """One application through a bundle version; ``(user, idempotency key)`` is unique."""

    __tablename__ = "theme_applications"
    __table_args__ = (UniqueConstraint("user_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    bundle_id: Mapped[int] = mapped_column(ForeignKey("theme_bundles.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("theme_bundle_versions.id"))
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("theme_consents.id"))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    # label -> value, the complete form as submitted; ``prefilled`` the labels read from
    # certificates (under consent) rather than typed by the applicant.
    # ID-number fields appear masked in ``form_values``; their values are in
    # ``sensitive_cipher`` (encrypted JSON), shown in full to the applicant only.
    form_values: Mapped[dict] = mapped_column(JSON, default=dict)
    sensitive_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    prefilled: Mapped[list] = mapped_column(JSON, default=list)

    user: Mapped[User] = relationship()
    bundle: Mapped[ThemeBundle] = relationship()
    version: Mapped[ThemeBundleVersion] = relationship()
    parts: Mapped[list[ThemeApplicationPart]] = relationship(
        back_populates="application", order_by="ThemeApplicationPart.position"
    )


class ThemeApplicationPart(CreatedMixin, db.Model):
    """The share of an application one department handles: one service item.

    ``materials`` is the item version's materials with what happened to each:
    ``attached`` (a reference to a certificate: id, serial, never a copy),
    ``verification_requested`` (with the request id), ``commitment``, ``department_check``
    or ``missing`` (with why).
    """

    __tablename__ = "theme_application_parts"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("theme_applications.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    service_item_id: Mapped[int] = mapped_column(ForeignKey("service_items.id"))
    item_version_id: Mapped[int] = mapped_column(ForeignKey("service_item_versions.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    state: Mapped[str] = mapped_column(String(24), default="submitted", index=True)
    correction_message: Mapped[str | None] = mapped_column(Text)
    materials: Mapped[list] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    application: Mapped[ThemeApplication] = relationship(back_populates="parts")
    service_item: Mapped[ServiceItem] = relationship()
    item_version: Mapped[ServiceItemVersion] = relationship()
    department: Mapped[Department] = relationship()
    events: Mapped[list[ThemeApplicationEvent]] = relationship(
        back_populates="part", order_by="ThemeApplicationEvent.id", cascade="all, delete-orphan"
    )


class ThemeApplicationEvent(db.Model):
    """One step of a part's timeline: who did what, the state it led to, any message."""

    __tablename__ = "theme_application_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("theme_application_parts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(24))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    part: Mapped[ThemeApplicationPart] = relationship(back_populates="events")
