"""The notification outbox: notifications (the inbox), their deliveries, subscriptions, campaigns.

A notification is what a person is told; a delivery is one attempt to tell them through one
channel. Deliveries are written in the event's own transaction and sent later by the worker,
so the database, not Redis, is the record of what still has to go out.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend import clock
from backend.extensions import db
from backend.models.base import CreatedMixin, UTCDateTime

if TYPE_CHECKING:
    from backend.models.organisations import Department


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    READ = "read"


class CampaignState(enum.StrEnum):
    QUEUED = "queued"  # written, fan-out not started
    SENDING = "sending"  # fan-out in progress (resumable from ``cursor_user_id``)
    SENT = "sent"  # every recipient has a notification and its deliveries


class Notification(CreatedMixin, db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_read", "user_id", "read_at"),
        # A campaign reaches each person once, even when a fan-out is resumed.
        UniqueConstraint("campaign_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    category: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(300))
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Template fields beyond title/body (e.g. the certificate's name), rendered at send time.
    data: Mapped[dict | None] = mapped_column(JSON)
    # Indexed by the unique (campaign_id, user_id) constraint.
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))

    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="notification", order_by="Delivery.id"
    )
    campaign: Mapped[Campaign | None] = relationship()


class Delivery(CreatedMixin, db.Model):
    """One channel's delivery of a notification; the worker's unit of work.

    ``enqueued_until``: a job for it is believed to be in Redis until then (NULL: not queued,
    the sweeper enqueues it). ``claimed_until``: a worker is sending it until then.
    """

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("notification_id", "channel"),
        Index("ix_notification_deliveries_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"))
    channel: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    enqueued_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    external_id: Mapped[str | None] = mapped_column(String(64))

    notification: Mapped[Notification] = relationship(back_populates="deliveries")


class WeChatSubscription(db.Model):
    """What a user allowed for one subscribe-message template.

    One-time templates allow one message per acceptance (``one_time_remaining`` counts them);
    long-term templates allow messages until the user turns them off (``long_term``).
    ``unmatched_*`` pairs the mini-program's report of a popup with WeChat's push event
    about the same popup, so one acceptance is not counted twice.
    """

    __tablename__ = "wechat_subscriptions"
    __table_args__ = (UniqueConstraint("user_id", "template_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    template_id: Mapped[str] = mapped_column(String(64))
    one_time_remaining: Mapped[int] = mapped_column(default=0)
    long_term: Mapped[bool] = mapped_column(default=False)
    last_status: Mapped[str] = mapped_column(String(16), default="accept")
    unmatched_source: Mapped[str | None] = mapped_column(String(8))
    unmatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)


class Campaign(CreatedMixin, db.Model):
    """A department's notice to an audience, fanned out in batches by a worker job."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # NULL: system
    category: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(300))
    data: Mapped[dict | None] = mapped_column(JSON)
    audience: Mapped[dict] = mapped_column(JSON)
    audience_size: Mapped[int] = mapped_column(default=0)  # when created
    recipients: Mapped[int] = mapped_column(default=0)  # notifications written so far
    state: Mapped[str] = mapped_column(String(16), default=CampaignState.QUEUED)
    cursor_user_id: Mapped[int] = mapped_column(default=0)
    enqueued_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Automatic campaigns (expiry reminders) run once per key, however often cron fires.
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)

    department: Mapped[Department] = relationship()
