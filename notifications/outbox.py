"""Writing deliveries: which channels reach whom, decided in the event's own transaction.

Used for one notification (``notify``) and for a campaign batch of thousands alike, so it
works on sets: one insert per channel, one subscription reservation per template.
"""

from __future__ import annotations

from sqlalchemy import insert, select

from backend import clock
from backend.extensions import db
from notifications.channels import CHANNELS, FALLBACKS
from notifications.models import Delivery, DeliveryState
from notifications.queue import enqueue_after_commit, queued_until
from notifications.templates import template_for

_deliveries = Delivery.__table__


def create_deliveries(
    pairs: list[tuple[int, int]],
    category: str,
    *,
    bulk: bool = False,
    channels: tuple[str, ...] | None = None,
    fallback: bool = False,
) -> dict[str, int]:
    """Write the deliveries of notifications given as ``(notification_id, user_id)`` pairs.

    Every pair gets an inbox delivery (already delivered); queued channels get pending
    deliveries that are enqueued after commit. Returns the number written per channel.
    """
    template = template_for(category)
    now = clock.now()
    lease = queued_until()
    user_ids = [user_id for _, user_id in pairs]
    written: dict[str, int] = {}
    for name, channel in CHANNELS.items():
        if channels is not None and name not in channels:
            continue
        reached = channel.recipients(user_ids, template, fallback=fallback)
        rows = [
            {
                "notification_id": notification_id,
                "channel": name,
                "state": DeliveryState.PENDING if channel.queued else DeliveryState.SENT,
                "attempts": 0 if channel.queued else 1,
                "next_attempt_at": now,
                "enqueued_until": lease if channel.queued else None,
                "sent_at": None if channel.queued else now,
                "created_at": now,
            }
            for notification_id, user_id in pairs
            if user_id in reached
        ]
        if not rows:
            continue
        written[name] = len(rows)
        if channel.queued:
            ids = list(db.session.scalars(insert(_deliveries).returning(_deliveries.c.id), rows))
            enqueue_after_commit("delivery", ids, bulk)
        else:
            db.session.execute(insert(_deliveries), rows)
    return written


def create_fallback(notification_id: int, user_id: int, category: str, failed: str) -> list[str]:
    """After ``failed`` gave up for good, write deliveries on its fallback channels."""
    existing = set(
        db.session.scalars(
            select(Delivery.channel).where(Delivery.notification_id == notification_id)
        )
    )
    channels = tuple(c for c in FALLBACKS.get(failed, ()) if c not in existing)
    if not channels:
        return []
    written = create_deliveries(
        [(notification_id, user_id)], category, channels=channels, fallback=True
    )
    return list(written)
