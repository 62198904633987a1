"""Rate limits per verifier member, per holder, per account and per client, kept in Redis.

Built on ``limits`` (the engine behind Flask-Limiter) rather than the Flask extension,
because who is limited (a member, a holder) is only known inside the service, and
because a limit that cannot be checked must fail closed like the token store: when
Redis is down the call raises ``TokenStoreUnavailable`` (503), never lets a scan through.
Limits come from config (``RATE_LIMIT_*``) so tests can reach them with a few requests.

On the two hottest paths the limit is counted by the token-store step the request makes
anyway (a scan's redeem, showing a code's rotate): ``counters`` names the same fixed
windows for the store's script, which refuses the step when one is full, so a limited
scan never consumes the code and the check costs no round trip of its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from flask import current_app
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from backend.errors import RateLimited, TokenStoreUnavailable
from backend.token_store import RATE_LIMIT_PREFIX, CounterExceeded, Counters

SCANS = "RATE_LIMIT_SCANS"  # per verifier member
CODES = "RATE_LIMIT_CODES"  # per holder, showing codes
OFFLINE_CODES = "RATE_LIMIT_OFFLINE_CODES"  # per holder, signing offline codes
OFFLINE_VERIFY = "RATE_LIMIT_OFFLINE_VERIFY"  # per client address, anyone may verify
BIND = "RATE_LIMIT_BIND"  # per account, real-name binding attempts (successful or not)
LOGIN_USER = "RATE_LIMIT_LOGIN_USER"  # per username, failed password logins
LOGIN_ADDRESS = "RATE_LIMIT_LOGIN_ADDRESS"  # per client address, failed password logins


class _Limiter:
    def __init__(self, redis_url: str | None) -> None:
        if redis_url:
            storage = storage_from_string(
                redis_url,
                key_prefix=RATE_LIMIT_PREFIX,
                wrap_exceptions=True,
                socket_timeout=2.0,
                socket_connect_timeout=2.0,
            )
        else:
            storage = storage_from_string("memory://")
        self.strategy = FixedWindowRateLimiter(storage)
        self._items: dict[str, list[RateLimitItem]] = {}

    def items(self, setting: str) -> list[RateLimitItem]:
        value = current_app.config[setting]
        if value not in self._items:
            self._items[value] = parse_many(value)
        return self._items[value]


def _limiter() -> _Limiter:
    extensions = current_app.extensions
    if "rate_limiter" not in extensions:
        extensions["rate_limiter"] = _Limiter(current_app.config.get("REDIS_URL"))
    return extensions["rate_limiter"]


def _first_full(setting: str, who: str, step: Callable[..., bool]) -> RateLimitItem | None:
    """Run ``step`` (the strategy's ``hit`` or ``test``) on each limit in ``setting`` for
    ``who``; the first one it refuses. Redis down: 503, failing closed."""
    limiter = _limiter()
    try:
        for item in limiter.items(setting):
            if not step(limiter.strategy, item, setting.lower(), who):
                return item
    except StorageError as exc:
        raise TokenStoreUnavailable() from exc
    return None


def hit(setting: str, who: str) -> None:
    """Count one attempt by ``who`` against every limit in ``setting``; 429 when over."""
    full = _first_full(setting, who, FixedWindowRateLimiter.hit)
    if full is not None:
        raise _too_many(full)


def refuse_when_full(setting: str, who: str, message: str | None = None) -> None:
    """429 when a limit in ``setting`` is already full for ``who``, counting nothing:
    with ``count`` after a failure, only failures are limited (password logins)."""
    full = _first_full(setting, who, FixedWindowRateLimiter.test)
    if full is not None:
        raise _too_many(full, message)


def count(setting: str, who: str) -> None:
    """Count one attempt that has already happened (a failure) without refusing it;
    the next ``refuse_when_full`` sees it."""
    _first_full(setting, who, lambda strategy, *args: strategy.hit(*args) or True)


@contextlib.contextmanager
def counted_along(setting: str, who: str) -> Iterator[Counters]:
    """``setting``'s limits for ``who`` as token-store counters ``(key, limit, window_s)``
    for the step the block makes to count along; a full one comes out as the 429."""
    items = _limiter().items(setting)
    try:
        yield tuple(
            (
                f"{RATE_LIMIT_PREFIX}:{setting.lower()}:{who}:{item.get_expiry()}",
                item.amount,
                item.get_expiry(),
            )
            for item in items
        )
    except CounterExceeded as exc:
        raise _too_many(items[exc.index]) from exc


def _too_many(item: RateLimitItem, message: str | None = None) -> RateLimited:
    return RateLimited(message or "操作过于频繁,请稍后再试", retry_after_s=item.get_expiry())
