"""One clock for the whole app, so deadlines and expiry can be tested with a frozen time."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
_frozen: datetime | None = None


def now() -> datetime:
    """Current time, timezone-aware UTC."""
    return _frozen if _frozen is not None else datetime.now(UTC)


@contextlib.contextmanager
def frozen(at: datetime) -> Iterator[None]:
    """Freeze ``now()`` at ``at`` (tests only)."""
    global _frozen
    previous = _frozen
    _frozen = at.astimezone(UTC)
    try:
        yield
    finally:
        _frozen = previous


def advance(delta: timedelta) -> None:
    """Move a frozen clock forward (tests only)."""
    global _frozen
    if _frozen is None:
        raise RuntimeError("clock is not frozen")
    _frozen = _frozen + delta


def to_local(value: datetime | None) -> str | None:
    """ISO 8601 in Asia/Shanghai, how times are shown to users."""
    if value is None:
        return None
    return value.astimezone(SHANGHAI).isoformat(timespec="seconds")
