"""Writing deliveries: which channels reach whom, decided in the event's own transaction.

The same code serves one notification (``notify``) and a campaign batch of thousands: the
notifications are named by SQL criteria and every channel's deliveries are one
``INSERT ... SELECT``, so the statement count does not grow with the batch.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, literal, select

from backend import clock
from backend.extensions import db
from backend.models.base import UTCDateTime
from notifications.channels import CHANNELS, FALLBACKS
from notifications.models import Delivery, DeliveryState, Notification
from notifications.queue import enqueue_after_commit, queued_until
from notifications.templates import template_for

_deliveries = Delivery.__table__


def _constants(channel_name: str, queued: bool, now, lease) -> dict[str, Any]:
    """The column values every delivery of one channel starts with (NULLs left out)."""
    values: dict[str, Any] = {
        "channel": literal(channel_name),
        "state": literal(DeliveryState.PENDING.value if queued else DeliveryState.SENT.value),
        "attempts": literal(0 if queued else 1),
        "next_attempt_at": literal(now, UTCDateTime()),
        "created_at": literal(now, UTCDateTime()),
    }
    if queued and lease is not None:
        values["enqueued_until"] = literal(lease, UTCDateTime())
    if not queued:
        values["sent_at"] = literal(now, UTCDateTime())
    return values


def create_deliveries(
    where: list,
    category: str,
    *,
    bulk: bool = False,
    channels: tuple[str, ...] | None = None,
    fallback: bool = False,
) -> dict[str, int]:
    """Write the deliveries of the notifications matching ``where`` (criteria on
    ``Notification``), one per channel that reaches their recipient.

    Inbox deliveries are delivered as written; queued channels get pending deliveries that
    are enqueued after commit (``bulk``: on the campaign queue). Returns counts per channel.
    """
    template = template_for(category)
    now = clock.now()
    lease = queued_until()
    users = select(Notification.user_id).where(*where)
    written: dict[str, int] = {}
    for name, channel in CHANNELS.items():
        if channels is not None and name not in channels:
            continue
        reached = channel.recipients(users, template, fallback=fallback)
        if reached is None:
            continue
        constants = _constants(name, channel.queued, now, lease)
        rows = select(Notification.id, *constants.values()).where(*where, reached)
        statement = insert(_deliveries).from_select(["notification_id", *constants], rows)
        if channel.queued:
            ids = db.session.scalars(statement.returning(_deliveries.c.id)).all()
            enqueue_after_commit("delivery", list(ids), bulk)
            count = len(ids)
        else:
            count = db.session.execute(statement).rowcount
        if count:
            written[name] = count
    return written


def create_fallback(notification_id: int, category: str, failed: str) -> list[str]:
    """After channel ``failed`` gave up for good, write deliveries on its fallback channels."""
    existing = set(
        db.session.scalars(
            select(Delivery.channel).where(Delivery.notification_id == notification_id)
        )
    )
    channels = tuple(c for c in FALLBACKS.get(failed, ()) if c not in existing)
    if not channels:
        return []
    written = create_deliveries(
        [Notification.id == notification_id], category, channels=channels, fallback=True
    )
    return list(written)
