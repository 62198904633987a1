"""The in-app inbox: the notification row itself; delivered the moment it is written."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, true

from notifications.channels.base import NOT_PROBED, Channel
from notifications.templates import Template


class InboxChannel(Channel):
    name = "inbox"
    queued = False

    def recipients(self, users: Select, template: Template, *, fallback: bool = False):
        return None if fallback else true()  # everyone; as a fallback they already have it

    def reaches(
        self, user_id, template: Template, conn=None, reserve=True, probed: Any = NOT_PROBED
    ) -> bool:
        return True
