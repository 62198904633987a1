"""The inbox: notifications newest first, unread ones marked; opening one marks it read."""

from __future__ import annotations

from flask import redirect, render_template
from flask_login import current_user

from backend import clock
from notifications import service as notifications
from webapp import bp
from webapp.forms import PER_PAGE, page_number
from webapp.guards import HOLDERS, VERIFIERS, page_for
from webapp.views import safe_next

INBOX_ROLES = HOLDERS + VERIFIERS


@bp.get("/inbox")
@page_for(*INBOX_ROLES)
def inbox():
    page = page_number()
    listing = notifications.list_notifications(current_user, page=page, per_page=PER_PAGE)
    items = [
        {
            "id": n.id,
            "title": n.title,
            "body": n.body,
            "link": n.link,
            "unread": n.read_at is None,
            "created_at": (clock.to_local(n.created_at) or "")[:16].replace("T", " "),
        }
        for n in listing["items"]
    ]
    return render_template(
        "inbox.html",
        listing=listing,
        items=items,
        has_next=page * PER_PAGE < listing["total"],
    )


@bp.post("/inbox/<int:notification_id>/read")
@page_for(*INBOX_ROLES)
def read_notification(notification_id: int):
    """Mark read, then follow the notification's link when it points into this site."""
    notification = notifications.mark_read(current_user, notification_id)
    return redirect(safe_next(notification.link, default="web.inbox"))
