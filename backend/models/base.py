"""Column types and mixins shared by every model."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, types
from sqlalchemy.orm import Mapped, mapped_column

from backend import clock


class UTCDateTime(types.TypeDecorator):
    """Stores naive UTC, returns aware UTC, on SQLite and PostgreSQL alike."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use backend.clock.now()")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


class CreatedMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
