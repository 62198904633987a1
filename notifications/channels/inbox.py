"""The in-app inbox: the notification row itself; delivered the moment it is written."""

from __future__ import annotations

from notifications.channels.base import Channel
from notifications.templates import Template


class InboxChannel(Channel):
    name = "inbox"
    queued = False

    def recipients(
        self, user_ids: list[int], template: Template, *, fallback: bool = False
    ) -> set[int]:
        return set() if fallback else set(user_ids)  # everyone already has it
