"""The entry point other domains use to tell someone something, and the inbox behind it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select, update

from backend import clock
from backend.errors import NotFound
from backend.extensions import db
from backend.models import User
from backend.services.tx import transactional
from notifications.models import Delivery, DeliveryState, Notification
from notifications.outbox import insert_with_deliveries, reached_channels


def notify(
    user_id: int,
    category: str,
    title: str,
    body: str,
    link: str | None = None,
    *,
    data: dict[str, Any] | None = None,
    channels: tuple[str, ...] | None = None,
) -> int:
    """Add a notification and its deliveries to the current transaction (outbox); its id.

    It exists iff the event does: the caller's ``@transactional`` commits both, and only
    then are the WeChat/SMS deliveries queued. ``data`` fills template fields beyond title
    and body (see ``notifications.templates``); ``channels`` restricts the channels tried.
    Core statements, not the ORM: every scan notifies its holder, so this is a hot path.
    """
    values = notification_values(user_id, category, title, body, link, data)
    return insert_with_deliveries(values, reached_channels(user_id, category, channels))


def notification_values(
    user_id: int,
    category: str,
    title: str,
    body: str,
    link: str | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The columns of a new notification (``notify``'s, or a hot path's own statement)."""
    values: dict[str, Any] = {
        "user_id": user_id,
        "category": category,
        "title": title[:100],
        "body": body,
        "link": link,
        "created_at": clock.now(),
    }
    if data is not None:  # left out, the column is SQL NULL rather than JSON null
        values["data"] = data
    return values


def _own(user: User, notification_id: int) -> Notification:
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.user_id != user.id:
        raise NotFound("通知不存在", code="notification_not_found")  # others' are not revealed
    return notification


def list_notifications(user: User, page: int = 1, per_page: int = 20) -> dict[str, Any]:
    """The user's inbox, unread first, newest first within each group."""
    mine = Notification.user_id == user.id
    total, unread = db.session.execute(
        select(
            func.count(Notification.id),
            func.count(case((Notification.read_at.is_(None), 1))),
        ).where(mine)
    ).one()
    items = list(
        db.session.scalars(
            select(Notification)
            .where(mine)
            .order_by(
                case((Notification.read_at.is_(None), 0), else_=1),
                Notification.created_at.desc(),
                Notification.id.desc(),
            )
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return {"items": items, "page": page, "per_page": per_page, "total": total, "unread": unread}


def unread_count(user: User) -> int:
    return db.session.scalar(
        select(func.count(Notification.id)).where(
            Notification.user_id == user.id, Notification.read_at.is_(None)
        )
    )


@transactional
def mark_read(user: User, notification_id: int) -> Notification:
    """Mark one of the user's notifications read (again is fine: the first time is kept)."""
    notification = _own(user, notification_id)
    if notification.read_at is None:
        notification.read_at = clock.now()
        db.session.execute(
            update(Delivery)
            .where(Delivery.notification_id == notification.id, Delivery.channel == "inbox")
            .values(state=DeliveryState.READ)
            .execution_options(synchronize_session=False)
        )
    return notification
