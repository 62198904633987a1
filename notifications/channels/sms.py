"""SMS through a provider interface; the logging provider stands in during development."""

from __future__ import annotations

import logging
import secrets
from abc import ABC, abstractmethod
from typing import Any

from flask import current_app
from sqlalchemy import Select, exists, select

from backend.db_driver import first_row
from backend.extensions import db
from backend.models import Person, User
from backend.security.crypto import mask_phone
from backend.services.accounts import person_phone
from notifications.channels.base import (
    NOT_PROBED,
    PROBE_USER_ID,
    Channel,
    PermanentError,
    probe_user_id,
)
from notifications.models import Notification
from notifications.templates import Message, Template, render_sms

log = logging.getLogger(__name__)


class SmsProvider(ABC):
    """An SMS gateway. Raise ``RetryableError`` or ``PermanentError`` on failure."""

    @abstractmethod
    def send(self, phone: str, text: str) -> str:
        """Send ``text`` to ``phone``; return the gateway's message id."""


class LoggingSmsProvider(SmsProvider):
    """Writes the message to the log instead of sending it (development, tests)."""

    def send(self, phone: str, text: str) -> str:
        message_id = "log-" + secrets.token_hex(6)
        log.info("SMS %s to %s: %s", message_id, mask_phone(phone), text)
        return message_id


# SMS_PROVIDER names one of these; "none" turns the SMS channel off.
SMS_PROVIDERS: dict[str, type[SmsProvider]] = {"logging": LoggingSmsProvider}


def get_sms_provider() -> SmsProvider | None:
    name = current_app.config.get("SMS_PROVIDER", "logging")
    if name == "none":
        return None
    provider = current_app.extensions.get("sms_provider")
    if provider is None:
        provider = SMS_PROVIDERS[name]()
        current_app.extensions["sms_provider"] = provider
    return provider


_HAS_PHONE = (
    select(User.id)
    .join(Person, Person.id == User.person_id)
    .where(User.id == probe_user_id, Person.phone_cipher.is_not(None))
)


class SmsChannel(Channel):
    name = "sms"

    def recipients(self, users: Select, template: Template, *, fallback: bool = False):
        wanted = template.sms == "always" or (fallback and template.sms == "fallback")
        if not wanted or get_sms_provider() is None:
            return None
        return exists(
            select(User.id)
            .join(Person, Person.id == User.person_id)
            .where(User.id == Notification.user_id, Person.phone_cipher.is_not(None))
        )

    def reaches(
        self, user_id, template: Template, conn=None, reserve=True, probed: Any = NOT_PROBED
    ) -> bool:
        if template.sms != "always" or get_sms_provider() is None:
            return False
        if probed is not NOT_PROBED:
            return bool(probed)
        return first_row(_HAS_PHONE, {PROBE_USER_ID: user_id}, conn) is not None

    def probe(self, template: Template):
        if template.sms != "always" or get_sms_provider() is None:
            return None
        return exists(_HAS_PHONE), {}

    def send(self, message: Message) -> str | None:
        provider = get_sms_provider()
        user = db.session.get(User, message.user_id)
        phone = person_phone(user.person) if user is not None and user.person else None
        if provider is None or not phone:
            raise PermanentError("no phone number or SMS turned off")
        return provider.send(phone, render_sms(message))
