"""Service items (政务服务事项), their versions and materials, publication batches, history.

An item is the stable identity (department, handling-item name, id used in URLs). Its
content lives in numbered versions: the public sees the one version flagged ``is_public``
while a later version is edited and reviewed. Every change is an ``ServiceItemEvent``.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend import clock
from backend.extensions import db
from backend.models.accounts import User
from backend.models.base import CreatedMixin, UTCDateTime
from backend.models.certificate_types import CertificateType
from backend.models.organisations import Department

CATEGORIES = (
    "行政许可",
    "行政确认",
    "行政裁决",
    "行政给付",
    "行政奖励",
    "行政备案",
    "其他行政权力",
    "公共服务",
)


class ItemState(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    APPROVED = "approved"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"  # an older published version replaced by a newer one


STATE_LABELS = {
    ItemState.DRAFT: "草稿",
    ItemState.SUBMITTED: "待审核",
    ItemState.RETURNED: "已退回",
    ItemState.APPROVED: "已审核待发布",
    ItemState.PUBLISHED: "已发布",
    ItemState.SUPERSEDED: "已被新版本替代",
}


class ExemptionBasis(enum.StrEnum):
    CERTIFICATE = "certificate"
    VERIFICATION_REQUEST = "verification_request"
    COMMITMENT = "commitment"


# What the public list shows for each basis; None means the material must be submitted.
EXEMPTION_LABELS: dict[str | None, str] = {
    ExemptionBasis.CERTIFICATE: "已关联电子证照证明,可免提交",
    ExemptionBasis.VERIFICATION_REQUEST: "通过部门协查核验,可免提交",
    ExemptionBasis.COMMITMENT: "实行告知承诺,可免提交",
    None: "需提交",
}
# Bases that count towards the sharing rate (the office fetches the proof itself).
SHARING_BASES = (ExemptionBasis.CERTIFICATE, ExemptionBasis.VERIFICATION_REQUEST)


class PublicationBatch(CreatedMixin, db.Model):
    """A numbered publication of approved items (第 N 批事项材料减免清单)."""

    __tablename__ = "publication_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    title: Mapped[str] = mapped_column(String(200))
    published_on: Mapped[date] = mapped_column(Date)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ServiceItem(CreatedMixin, db.Model):
    """The stable identity of a service item; ``state`` is that of its latest version."""

    __tablename__ = "service_items"
    __table_args__ = (UniqueConstraint("department_id", "handling_item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stable key for seeded items (themes refer to them), e.g. "food_permit_new".
    code: Mapped[str | None] = mapped_column(String(64), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    # The latest version's handling-item name: unique within the department.
    handling_item: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default=ItemState.DRAFT, index=True)
    latest_number: Mapped[int] = mapped_column(default=1)
    published_number: Mapped[int | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    # Optimistic lock: of two concurrent workflow steps on one item, the second fails.
    row_version: Mapped[int] = mapped_column(default=1)

    department: Mapped[Department] = relationship()
    versions: Mapped[list[ServiceItemVersion]] = relationship(
        back_populates="item", order_by="ServiceItemVersion.number"
    )

    __mapper_args__ = {"version_id_col": row_version}


class ServiceItemVersion(CreatedMixin, db.Model):
    """One version of an item's content: names, category and materials."""

    __tablename__ = "service_item_versions"
    __table_args__ = (
        UniqueConstraint("item_id", "number"),
        # The public list's order (department, item) straight from the versions table.
        Index("ix_service_item_versions_public_order", "is_public", "department_id", "item_id"),
        # Text search on PostgreSQL: the bigrams of the search text as a GIN-indexed
        # tsvector (see backend.services.exemption_list); SQLite scans ``search_text``.
        Index("ix_service_item_versions_search_terms", "search_terms", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("service_items.id"), index=True)
    # The item's department, copied so the public list is one table: filter, order, count.
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    number: Mapped[int] = mapped_column()
    state: Mapped[str] = mapped_column(String(16), default=ItemState.DRAFT)
    # True for the one version of an item the public sees.
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    category: Mapped[str] = mapped_column(String(16), index=True)
    main_item: Mapped[str] = mapped_column(String(200))
    sub_item: Mapped[str] = mapped_column(String(200))
    handling_item: Mapped[str] = mapped_column(String(200))
    # Lower-cased names of the item, its materials and department, for text search.
    search_text: Mapped[str] = mapped_column(Text, default="", deferred=True)
    search_terms: Mapped[str] = mapped_column(
        Text().with_variant(TSVECTOR(), "postgresql"), default="", deferred=True
    )
    return_reason: Mapped[str | None] = mapped_column(Text)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("publication_batches.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    item: Mapped[ServiceItem] = relationship(back_populates="versions")
    batch: Mapped[PublicationBatch | None] = relationship()
    materials: Mapped[list[Material]] = relationship(
        back_populates="version", order_by="Material.position", cascade="all, delete-orphan"
    )


class Material(db.Model):
    """An application material of one version of a handling item."""

    __tablename__ = "service_item_materials"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("service_item_versions.id"), index=True)
    position: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(String(200))
    # Free text (issuers outside the city exist); linked when it names a known department.
    issuing_department_name: Mapped[str | None] = mapped_column(String(100))
    issuing_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    certificate_type_id: Mapped[int | None] = mapped_column(
        ForeignKey("certificate_types.id"), index=True
    )
    certificate_fields: Mapped[list] = mapped_column(JSON, default=list)
    exemption_basis: Mapped[str | None] = mapped_column(String(32))
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    notes: Mapped[str] = mapped_column(Text, default="")

    version: Mapped[ServiceItemVersion] = relationship(back_populates="materials")
    certificate_type: Mapped[CertificateType | None] = relationship()
    issuing_department: Mapped[Department | None] = relationship()


class ServiceItemEvent(db.Model):
    """One entry of an item's history: who did what, when, from which state to which."""

    __tablename__ = "service_item_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("service_items.id"), index=True)
    version_number: Mapped[int] = mapped_column()
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("publication_batches.id"))
    # The version's content after the change, for create/update/import events.
    snapshot: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    item: Mapped[ServiceItem] = relationship()
    actor: Mapped[User | None] = relationship()
    batch: Mapped[PublicationBatch | None] = relationship()
