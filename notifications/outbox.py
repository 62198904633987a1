"""Writing deliveries: which channels reach whom, decided in the event's own transaction.

The same code serves one notification (``notify``) and a campaign batch of thousands: the
notifications are named by SQL criteria and every channel's deliveries are one
``INSERT ... SELECT``, so the statement count does not grow with the batch.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import BindParameter, bindparam, insert, literal, null, select, union_all

from backend import clock
from backend.extensions import db
from backend.models.base import UTCDateTime
from notifications.channels import CHANNELS, FALLBACKS
from notifications.channels.base import NOT_PROBED
from notifications.models import Delivery, DeliveryState, Notification
from notifications.queue import enqueue_after_commit, queued_until
from notifications.templates import template_for

_deliveries = Delivery.__table__


def _constants(channel_name: str, queued: bool, now, lease) -> dict[str, Any]:
    """The column values every delivery of one channel starts with, as SQL literals for
    ``INSERT ... SELECT`` (NULLs left out): ``_row``'s values, so both paths agree."""
    start = _row(None, channel_name, queued, now, lease)
    return {
        column: literal(value, UTCDateTime()) if column in _TIMES else literal(value)
        for column, value in start.items()
        if column != "notification_id" and value is not None
    }


_TIMES = {"next_attempt_at", "created_at", "enqueued_until", "sent_at"}


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


def reached_channels(
    user_id: int,
    category: str,
    channels: tuple[str, ...] | None = None,
    conn=None,
    reserve: bool = True,
    probed: dict[str, Any] | None = None,
) -> list[str]:
    """The channels that reach this one user with the category's template (reserving
    what ``reaches`` reserves), in registry order. ``conn``: a hot path's driver
    connection; ``reserve`` False: read only, ``ReservationNeeded`` if that cannot
    decide (see ``Channel.reaches``); ``probed``: ``channel_probes``' values, read along
    another statement."""
    template = template_for(category)
    probed = probed or {}
    return [
        name
        for name, channel in CHANNELS.items()
        if (channels is None or name in channels)
        and channel.reaches(user_id, template, conn, reserve, probed.get(name, NOT_PROBED))
    ]


def channel_probes(category: str) -> tuple[list[tuple[str, Any]], dict[str, Any]]:
    """The look-ups ``reached_channels`` would make for the category, as labelled scalar
    expressions of ``PROBE_USER_ID`` for a hot path's own statement, and their other
    parameters; what it reads goes back as ``reached_channels(..., probed=...)``."""
    template = template_for(category)
    columns, params = [], {}
    for name, channel in CHANNELS.items():
        found = channel.probe(template)
        if found is not None:
            columns.append((name, found[0]))
            params.update(found[1])
    return columns, params


def notification_insert(values: dict[str, Any], reached: list[str]):
    """PostgreSQL: the one statement that writes a notification (``values``: its columns)
    and a delivery per reached channel (at least one), with its parameters. It returns
    each delivery's ``id``, ``channel`` and ``notification_id``; other writes of the same
    event may ride along as CTEs (a scan's usage records)."""
    params = {f"n_{key}": value for key, value in values.items()}
    params.update(now=values["created_at"], lease=queued_until())
    return _combined_insert(tuple(reached), tuple(sorted(values))), params


def queued_deliveries(rows) -> list[int]:
    """The ids among written ``(id, channel, ...)`` delivery rows that a worker sends."""
    return [row.id for row in rows if CHANNELS[row.channel].queued]


def insert_with_deliveries(values: dict[str, Any], reached: list[str]) -> int:
    """Insert one notification (``values``: its columns) and a delivery per reached
    channel; return its id. Queued deliveries are enqueued after commit.

    One statement on PostgreSQL (a data-modifying CTE: the notification, then its
    deliveries selected from it), two elsewhere: every scan notifies its holder.
    """
    now, lease = values["created_at"], queued_until()
    if reached and db.engine.dialect.name == "postgresql":
        statement, params = notification_insert(values, reached)
        rows = db.session.execute(statement, params).all()
        enqueue_after_commit("delivery", queued_deliveries(rows))
        return rows[0].notification_id
    notification_id = db.session.execute(_INSERT_NOTIFICATION, values).scalar_one()
    if not reached:
        return notification_id
    result = db.session.execute(
        insert(_deliveries).returning(_deliveries.c.id, _deliveries.c.channel),
        [_row(notification_id, name, CHANNELS[name].queued, now, lease) for name in reached],
    ).all()
    enqueue_after_commit("delivery", queued_deliveries(result))
    return notification_id


_notifications = Notification.__table__
_INSERT_NOTIFICATION = insert(_notifications).returning(_notifications.c.id)
_DELIVERY_COLUMNS = [
    "notification_id",
    "channel",
    "state",
    "attempts",
    "next_attempt_at",
    "created_at",
    "enqueued_until",
    "sent_at",
]


@functools.cache
def _combined_insert(reached: tuple[str, ...], columns: tuple[str, ...]):
    """``WITH n AS (INSERT notification RETURNING id) INSERT deliveries SELECT ... FROM n``,
    built once per set of channels and of notification columns."""
    new = (
        insert(_notifications)
        .values({c: bindparam(f"n_{c}", type_=_notifications.c[c].type) for c in columns})
        .returning(_notifications.c.id)
        .cte("new_notification")
    )
    now = bindparam("now", type_=UTCDateTime())
    lease = bindparam("lease", type_=UTCDateTime())
    rows = []
    for name in reached:
        start = _row(None, name, CHANNELS[name].queued, now, lease)  # one rule for both paths
        values = [new.c.id] + [_sql_value(start[c]) for c in _DELIVERY_COLUMNS[1:]]
        rows.append(select(*values).select_from(new))
    return (
        insert(_deliveries)
        .add_cte(new)
        .from_select(_DELIVERY_COLUMNS, union_all(*rows) if len(rows) > 1 else rows[0])
        .returning(_deliveries.c.id, _deliveries.c.channel, _deliveries.c.notification_id)
    )


def _sql_value(value: Any):
    """A delivery column's starting value inside the combined statement."""
    if value is None:
        return null()
    return value if isinstance(value, BindParameter) else literal(value)


def _row(notification_id: int | None, channel: str, queued: bool, now, lease) -> dict[str, Any]:
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
