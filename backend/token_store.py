"""Short-lived secrets (login tokens, one-time code tokens) with a TTL.

Two implementations behind one interface: Redis for production and tests, an in-process
dictionary for the one-command embedded default (one worker only). Redemption is atomic
and fails closed: when Redis is unreachable every call raises ``TokenStoreUnavailable``.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

import redis

from backend.errors import TokenStoreUnavailable
from backend.redis_scripts import ScriptRunner

# Fixed-window counters counted in the same atomic step as a token operation:
# ``(key, limit, window_s)``; a window starts at its key's first count.
Counters = tuple[tuple[str, int, int], ...]


class CounterExceeded(Exception):
    """A counter passed its limit: the operation it guarded did nothing (it still counted)."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index  # 0-based, in the order the counters were given


@dataclass(frozen=True, slots=True)
class CallerCheck:
    """A caller a request took from its worker's memory (``backend.caller_cache``), to be
    confirmed by the token-store step it makes anyway instead of by a round trip of its
    own: the login token must still name this user, and the account's version must still
    be the one the worker's copy was read under."""

    token_key: str
    user_id: str
    version_key: str
    version: str


class CallerCheckFailed(Exception):
    """A ``CallerCheck`` did not hold; the step it rode on did nothing (counted nothing)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "token": logged out or expired; "version": account changed


# Key prefixes and TTLs, named once. Keys are "<prefix><token>".
AUTH_TOKEN_PREFIX = "auth:token:"
CODE_TOKEN_PREFIX = "code:token:"
CODE_CURRENT_PREFIX = "code:current:"
# Who a code token was issued to and until when, kept after it expires, so an expired code is
# told apart from an unknown one; and what became of it (used by whom, replaced).
CODE_STATE_PREFIX = "code:state:"
CODE_OUTCOME_PREFIX = "code:outcome:"
DEFAULT_CODE_TTL_S = 60
MIN_CODE_TTL_S = 15
MAX_CODE_TTL_S = 300
# The live key outlives the code's own expiry by this much; expiry is decided by the code's
# recorded time, so a scan just after expiry says "expired", not "unknown".
CODE_EXPIRY_SLACK_S = 5
# How long a used, expired or replaced code is remembered as such.
CODE_TOMBSTONE_TTL_S = 600
# A random version per account, set at login and replaced whenever the account changes:
# workers that keep the account in memory (backend.caller_cache) reload it when it moves.
USER_VERSION_PREFIX = "auth:user-version:"
# Signed WeChat push queries already used (notifications/push.py): each is single-use.
PUSH_SEEN_PREFIX = "wechat:push-seen:"
# Rate-limit counters (kept by the ``limits`` library under this prefix).
RATE_LIMIT_PREFIX = "ratelimit"


class TokenStore(ABC):
    """set with TTL, atomic get-and-delete (``take``), delete, health."""

    kind: str

    @abstractmethod
    def set(self, key: str, value: str, ttl_s: int) -> None: ...

    @abstractmethod
    def get(self, key: str) -> str | None: ...

    @abstractmethod
    def take(self, key: str) -> str | None:
        """Return the value and delete the key in one step: of two callers one wins."""

    @abstractmethod
    def take_and_set(
        self,
        key: str,
        then_key: str,
        then_value: str,
        then_ttl_s: int,
        counters: Counters = (),
        check: CallerCheck | None = None,
    ) -> str | None:
        """``take(key)`` and, only if it held a value, set ``then_key``: one atomic step.

        Records what happened to a one-time token in the same step that consumes it.
        ``check`` is confirmed first (else ``CallerCheckFailed``, nothing done), then
        ``counters`` are counted, in the same step; if one is over its limit,
        ``CounterExceeded`` is raised and nothing is taken (a rate-limited attempt).
        """

    @abstractmethod
    def set_many(self, items: list[tuple[str, str, int]]) -> list[str | None]:
        """Set several ``(key, value, ttl_s)`` at once (all or none, one round trip);
        returns each key's previous value."""

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def ttl(self, key: str) -> int | None:
        """Seconds left, or None when the key does not exist."""

    @abstractmethod
    def health(self) -> bool: ...


class MemoryTokenStore(TokenStore):
    """In-process store for development with a single worker; never shared between processes."""

    kind = "memory"

    def __init__(self) -> None:
        self._items: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def _live(self, key: str) -> tuple[str, float] | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item[1] <= time.monotonic():
            del self._items[key]
            return None
        return item

    def set(self, key: str, value: str, ttl_s: int) -> None:
        with self._lock:
            self._items[key] = (value, time.monotonic() + ttl_s)
            if len(self._items) > 10_000:
                self._purge()

    def _purge(self) -> None:
        now = time.monotonic()
        for key in [k for k, (_, exp) in self._items.items() if exp <= now]:
            del self._items[key]

    def get(self, key: str) -> str | None:
        with self._lock:
            item = self._live(key)
            return item[0] if item else None

    def take(self, key: str) -> str | None:
        with self._lock:
            item = self._live(key)
            if item is None:
                return None
            del self._items[key]
            return item[0]

    def _check(self, check: CallerCheck | None) -> None:
        if check is None:
            return
        token = self._live(check.token_key)
        if token is None or token[0] != check.user_id:
            raise CallerCheckFailed("token")
        version = self._live(check.version_key)
        if version is None or version[0] != check.version:
            raise CallerCheckFailed("version")

    def _count(self, counters: Counters) -> None:
        over = None
        for index, (key, limit, window_s) in enumerate(counters):
            found = self._live(key)
            count = int(found[0]) + 1 if found else 1
            self._items[key] = (str(count), found[1] if found else time.monotonic() + window_s)
            if over is None and count > limit:
                over = index
        if over is not None:
            raise CounterExceeded(over)

    def take_and_set(self, key, then_key, then_value, then_ttl_s, counters=(), check=None):
        with self._lock:
            self._check(check)
            self._count(counters)
            item = self._live(key)
            if item is None:
                return None
            del self._items[key]
            self._items[then_key] = (then_value, time.monotonic() + then_ttl_s)
            return item[0]

    def set_many(self, items: list[tuple[str, str, int]]) -> list[str | None]:
        with self._lock:
            previous = []
            for key, value, ttl_s in items:
                item = self._live(key)
                previous.append(item[0] if item else None)
                self._items[key] = (value, time.monotonic() + ttl_s)
            return previous

    def delete(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)

    def ttl(self, key: str) -> int | None:
        with self._lock:
            item = self._live(key)
            return None if item is None else max(0, int(item[1] - time.monotonic()))

    def rotate(self, pointer, items, retire, counters=(), check=None) -> str | None:
        with self._lock:
            self._check(check)
            self._count(counters)
            now = time.monotonic()
            old = self._live(pointer[0])
            for key, value, ttl_s in [pointer, *items]:
                self._items[key] = (value, now + ttl_s)
            if old is None:
                return None
            retired = self._live(retire[0] + old[0])
            if retired is not None:
                del self._items[retire[0] + old[0]]
                self._items[retire[1] + old[0]] = (retire[2], now + retire[3])
            return old[0]

    def get_chained(self, key: str, prefix: str) -> tuple[str | None, str | None]:
        with self._lock:
            item = self._live(key)
            if item is None:
                return None, None
            chained = self._live(prefix + item[0])
            return item[0], chained[0] if chained else None

    def add(self, key: str, value: str, ttl_s: int) -> bool:
        with self._lock:
            if self._live(key) is not None:
                return False
            self._items[key] = (value, time.monotonic() + ttl_s)
            return True

    def health(self) -> bool:
        return True


class RedisTokenStore(TokenStore):
    """Redis store; ``take`` is GETDEL, atomic on the server."""

    kind = "redis"

    # Ahead of a script's own work: a caller check (ARGV[1] = 1: KEYS[1] must hold ARGV[2]
    # and KEYS[2] ARGV[3]; else the script returns {-1} or {-2} and does nothing), then
    # fixed-window counters (their number next in ARGV, their keys next in KEYS, then a
    # limit and a window each). A full counter returns {its 1-based index} and the script
    # does nothing more; then ``k`` and ``a`` are where the script's own KEYS and ARGV start.
    PRELUDE = """
local k, a = 0, 1
if ARGV[1] == '1' then
  if redis.call('GET', KEYS[1]) ~= ARGV[2] then return {-1} end
  if redis.call('GET', KEYS[2]) ~= ARGV[3] then return {-2} end
  k, a = 2, 3
end
local c = tonumber(ARGV[a + 1])
local over = 0
for i = 1, c do
  local count = redis.call('INCR', KEYS[k + i])
  if count == 1 then redis.call('EXPIRE', KEYS[k + i], ARGV[a + 2 * i + 1]) end
  if over == 0 and count > tonumber(ARGV[a + 2 * i]) then over = i end
end
if over > 0 then return {over} end
k, a = k + c, a + 2 * c + 1
"""
    # GETDEL, then SET only when there was a value; Lua scripts run atomically in Redis.
    TAKE_AND_SET = (
        PRELUDE
        + """
local value = redis.call('GETDEL', KEYS[k + 1])
if value then redis.call('SET', KEYS[k + 2], ARGV[a + 1], 'EX', ARGV[a + 2]) end
return value
"""
    )

    # KEYS: pointer then items; ARGV: their values and TTLs, then the retire arguments.
    ROTATE = (
        PRELUDE
        + """
local n = #KEYS - k
local old = redis.call('GET', KEYS[k + 1])
for i = 1, n do redis.call('SET', KEYS[k + i], ARGV[a + 2 * i - 1], 'EX', ARGV[a + 2 * i]) end
if old then
  local r = a + 2 * n
  if redis.call('GETDEL', ARGV[r + 1] .. old) then
    redis.call('SET', ARGV[r + 2] .. old, ARGV[r + 3], 'EX', ARGV[r + 4])
  end
end
return old
"""
    )
    # Reads a key named by another key's value: fine on one Redis server (not a cluster).
    GET_CHAINED = """
local value = redis.call('GET', KEYS[1])
if not value then return {false, false} end
return {value, redis.call('GET', ARGV[1] .. value)}
"""

    def __init__(self, url: str, *, timeout_s: float = 2.0) -> None:
        self.url = url
        self.client = redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            decode_responses=True,
            health_check_interval=30,
        )
        self._scripts = ScriptRunner(self.client)
        self._take_and_set = self.client.register_script(self.TAKE_AND_SET)
        self._get_chained = self.client.register_script(self.GET_CHAINED)
        self._rotate = self.client.register_script(self.ROTATE)

    def _call(self, fn, *args):
        try:
            return fn(*args)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise TokenStoreUnavailable() from exc

    def set(self, key: str, value: str, ttl_s: int) -> None:
        self._call(self.client.set, key, value, ttl_s)

    def get(self, key: str) -> str | None:
        return self._call(self.client.get, key)

    def take(self, key: str) -> str | None:
        return self._call(self.client.getdel, key)

    def _counted(self, script, counters: Counters, check, keys: list, args: list):
        """Run ``script`` behind the PRELUDE: the caller check, then the counters."""
        if check is None:
            head_keys, head_args = [], [0]
        else:
            head_keys = [check.token_key, check.version_key]
            head_args = [1, check.user_id, check.version]
        head_keys += [c[0] for c in counters]
        head_args.append(len(counters))
        head_args += [x for _, limit, window in counters for x in (limit, window)]
        result = self._call(self._scripts.run, script, head_keys + keys, head_args + args)
        if isinstance(result, list):
            index = int(result[0])
            if index < 0:
                raise CallerCheckFailed("token" if index == -1 else "version")
            raise CounterExceeded(index - 1)
        return result

    def take_and_set(self, key, then_key, then_value, then_ttl_s, counters=(), check=None):
        return self._counted(
            self._take_and_set, counters, check, [key, then_key], [then_value, then_ttl_s]
        )

    def set_many(self, items: list[tuple[str, str, int]]) -> list[str | None]:
        def run():
            pipe = self.client.pipeline(transaction=True)
            for key, value, ttl_s in items:
                pipe.set(key, value, ex=ttl_s, get=True)
            return pipe.execute()

        return self._call(run)

    def delete(self, key: str) -> None:
        self._call(self.client.delete, key)

    def ttl(self, key: str) -> int | None:
        left = self._call(self.client.ttl, key)
        return None if left is None or left < 0 else int(left)

    def rotate(self, pointer, items, retire, counters=(), check=None) -> str | None:
        entries = [pointer, *items]
        args = [x for _, value, ttl_s in entries for x in (value, ttl_s)] + list(retire)
        return self._counted(self._rotate, counters, check, [key for key, _, _ in entries], args)

    def get_chained(self, key: str, prefix: str) -> tuple[str | None, str | None]:
        value, chained = self._call(self._scripts.run, self._get_chained, [key], [prefix])
        return value or None, chained or None

    def add(self, key: str, value: str, ttl_s: int) -> bool:
        return bool(self._call(lambda: self.client.set(key, value, ex=ttl_s, nx=True)))

    def close(self) -> None:
        """Drop this thread's script connection and the pool's connections."""
        self._scripts.close()
        self.client.close()

    def health(self) -> bool:
        try:
            return bool(self.client.ping())
        except (redis.ConnectionError, redis.TimeoutError):
            return False


def build_token_store(redis_url: str | None) -> TokenStore:
    return RedisTokenStore(redis_url) if redis_url else MemoryTokenStore()


def get_token_store() -> TokenStore:
    """The app's token store (``app.extensions['token_store']``)."""
    from flask import current_app

    return current_app.extensions["token_store"]
