"""The one entry point other domains use to tell someone something."""

from __future__ import annotations

from backend.extensions import db
from notifications.models import Notification


def notify(
    user_id: int, category: str, title: str, body: str, link: str | None = None
) -> Notification:
    """Add a notification to the current transaction (outbox): it exists iff the event does."""
    notification = Notification(
        user_id=user_id, category=category, title=title[:100], body=body, link=link
    )
    db.session.add(notification)
    return notification
