"""Demo inbox content for ``flask seed-demo`` (idempotent)."""

from __future__ import annotations

from sqlalchemy import select

from backend.extensions import db
from backend.models import User
from notifications.models import Notification
from notifications.service import notify

DEMO_NOTIFICATIONS = [
    (
        "general",
        "欢迎使用无证明城市",
        "您的电子证照已可在小程序中亮证使用,办事无需再提交纸质证明。",
    ),
    (
        "certificate_expiry",
        "机动车驾驶证将于30天后到期",
        "您的机动车驾驶证即将到期,请及时办理换证。",
    ),
]


def seed_demo_notifications() -> None:
    """A couple of notifications in citizen-demo's inbox, once."""
    citizen = db.session.scalar(select(User).where(User.username == "citizen-demo"))
    if citizen is None:
        return
    for category, title, body in DEMO_NOTIFICATIONS:
        exists = db.session.scalar(
            select(Notification.id).where(
                Notification.user_id == citizen.id, Notification.title == title
            )
        )
        if exists is None:
            notify(citizen.id, category, title, body)
