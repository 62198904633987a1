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


def create_deliveries_for_one(
    notification_id: int, user_id: int, category: str, channels: tuple[str, ...] | None = None
) -> dict[str, int]:
    """``create_deliveries`` for a single notification of a known user, in one INSERT.

    Each channel answers ``reaches`` for the one user instead of building set-based
    statements, so a notification costs its own row, one look-up per queued channel that
    has a template, and one multi-row insert of its deliveries.
    """
    template = template_for(category)
    now = clock.now()
    lease = queued_until()
    rows, queued = [], []
    for name, channel in CHANNELS.items():
        if channels is not None and name not in channels:
            continue
        if not channel.reaches(user_id, template):
            continue
        rows.append(_row(notification_id, name, channel.queued, now, lease))
        if channel.queued:
            queued.append(name)
    if not rows:
        return {}
    if queued:
        result = db.session.execute(
            insert(_deliveries).returning(_deliveries.c.id, _deliveries.c.channel), rows
        ).all()
        enqueue_after_commit("delivery", [r.id for r in result if r.channel in queued])
    else:
        db.session.execute(insert(_deliveries), rows)
    return {row["channel"]: 1 for row in rows}


def _row(notification_id: int, channel: str, queued: bool, now, lease) -> dict[str, Any]:
    """One delivery row with the same starting values ``_constants`` gives a batch."""
    return {
        "notification_id": notification_id,
        "channel": channel,
        "state": DeliveryState.PENDING.value if queued else DeliveryState.SENT.value,
        "attempts": 0 if queued else 1,
        "next_attempt_at": now,
        "created_at": now,
        "enqueued_until": lease if queued else None,
        "sent_at": None if queued else now,
    }


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
