"""The channel registry: every way the platform reaches a person, by name.

A new channel is a ``Channel`` subclass added here; ``FALLBACKS`` says where a notification
goes when a channel fails for good (the inbox always has it already).
"""

from __future__ import annotations

from notifications.channels.base import (
    Channel,
    DeliveryError,
    PermanentError,
    RetryableError,
)
from notifications.channels.inbox import InboxChannel
from notifications.channels.sms import SmsChannel
from notifications.channels.wechat import WeChatChannel

CHANNELS: dict[str, Channel] = {
    channel.name: channel for channel in (InboxChannel(), WeChatChannel(), SmsChannel())
}
FALLBACKS: dict[str, tuple[str, ...]] = {"wechat": ("sms",)}

__all__ = [
    "CHANNELS",
    "FALLBACKS",
    "Channel",
    "DeliveryError",
    "PermanentError",
    "RetryableError",
]
