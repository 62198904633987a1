"""The accounts behind bearer tokens, kept in worker memory and reloaded when they change.

Every API request resolves its bearer token to an account. Reading the account row through
the ORM was the largest single cost of a scan, so each worker keeps a detached copy of the
account for up to ``CALLER_CACHE_TTL_S`` seconds (0: always read). The token itself is still
checked in the token store on every request (logout is immediate), and the same round trip
reads the account's version there: a random value set at login and replaced by any committed
change to a ``User`` row (``after_commit`` below), so every worker reloads the account on its
next request. Versions are random, not counters, so a token store that lost its data (a
restart) can never hand back a version an old copy was cached under; an account without a
version is read every time. If replacing the version fails (the token store is down, when
requests fail closed anyway), the copy is trusted no longer than the TTL.

Change accounts through the ORM (``user.role = ...``); a Core ``UPDATE users`` bypasses the
bump and must call ``account_changed`` itself.

A view that only reads the caller's own columns (the hot paths: showing and scanning a
code) can take an ``AccountSnapshot`` instead (``load_snapshot``): the same cached values,
read-only, shared by the worker's requests. It needs no session, so such a request neither
makes one nor tears one down (together about a tenth of a scan's CPU).

Such a view may also take the caller *provisionally* (``provisional``): the worker
remembers which account each login token it has seen belongs to, takes that account's
copy, and has the request's one token-store step confirm, atomically and first, that the
token still names the account and that its version is still the copy's
(``token_store.CallerCheck``). A scan or a shown code then costs one round trip to the
token store, not two. ``backend.auth`` confirms a check that no step confirmed before
the request's answer (an error included) goes out.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import secrets
import threading

from cachetools import LRUCache, TTLCache
from flask import current_app, has_app_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, make_transient_to_detached

from backend import db_driver
from backend.errors import TokenStoreUnavailable
from backend.extensions import db
from backend.models import User
from backend.token_store import (
    AUTH_TOKEN_PREFIX,
    USER_VERSION_PREFIX,
    CallerCheck,
    get_token_store,
)

log = logging.getLogger(__name__)

_CHANGED = "certfree.changed_users"  # session.info key: accounts changed in this transaction
_lock = threading.Lock()


def _cache() -> TTLCache | None:
    ttl = current_app.config["CALLER_CACHE_TTL_S"]
    if ttl <= 0:
        return None
    cache = current_app.extensions.get("caller_cache")
    if cache is None:
        cache = current_app.extensions.setdefault("caller_cache", TTLCache(10_000, ttl))
    return cache


_COLUMNS = tuple(a.key for a in inspect(User).column_attrs)
# The account's columns as a frozen value: what a view that only reads them is given.
AccountSnapshot = dataclasses.make_dataclass("AccountSnapshot", _COLUMNS, frozen=True, slots=True)
AccountSnapshot.__module__ = __name__


# Who a service acts for: the account, or its snapshot where the view only reads columns.
Caller = User | AccountSnapshot  # type: ignore[valid-type]


@dataclasses.dataclass(frozen=True, slots=True)
class _Entry:
    version: str
    copy: User  # detached: merged into a request's session, never used directly
    snapshot: AccountSnapshot  # type: ignore[valid-type]


def load_account(user_id: int, version: str | None) -> User | None:
    """The account, from this worker's copy when its version is current, else the database."""
    cache = _cache() if version is not None else None
    found = _cached(cache, user_id, version)
    if found is not None:
        # A persistent copy in this request's session, without a query; lazy
        # relationships (person, companies) still load from the database.
        return db.session.merge(found.copy, load=False)
    if cache is None or not db_driver.usable():
        user = db.session.get(User, user_id)
        if user is None or cache is None:
            return user
        _remember(cache, user_id, version, _detached_copy(user))
        return user
    # PostgreSQL: one plain query instead of the ORM's load (a miss on every worker for
    # every account that calls for the first time in a while)
    entry = _read(cache, user_id, version)
    return None if entry is None else db.session.merge(entry.copy, load=False)


def load_snapshot(user_id: int, version: str | None):
    """The account's columns, read-only (``AccountSnapshot``), from this worker's copy
    when its version is current; without touching the request's session on PostgreSQL."""
    cache = _cache() if version is not None else None
    found = _cached(cache, user_id, version)
    if found is not None:
        return found.snapshot
    if cache is None or not db_driver.usable():
        user = db.session.get(User, user_id)
        if user is None:
            return None
        copy = _detached_copy(user)
        if cache is None:
            return _snapshot(copy)
        return _remember(cache, user_id, version, copy).snapshot
    entry = _read(cache, user_id, version)
    return None if entry is None else entry.snapshot


def _token_users() -> LRUCache:
    found = current_app.extensions.get("token_users")
    if found is None:
        found = current_app.extensions.setdefault("token_users", LRUCache(20_000))
    return found


def _token_ref(token: str) -> bytes:
    """What the worker keys a token by: a digest, so its memory holds no usable token."""
    return hashlib.blake2b(token.encode(), digest_size=16).digest()


def token_seen(token: str, user_id: int) -> None:
    """Remember the account a login token named (a login token never changes account)."""
    if _cache() is not None:
        with _lock:
            _token_users()[_token_ref(token)] = user_id


def token_gone(token: str) -> None:
    with _lock:
        _token_users().pop(_token_ref(token), None)


def provisional(token: str) -> tuple[AccountSnapshot, CallerCheck] | None:  # type: ignore[valid-type]
    """The snapshot of the account this worker last saw ``token`` name, with the check
    that confirms it in the request's token-store step; None when the worker has no copy
    to offer (then the caller is resolved the usual way)."""
    cache = _cache()
    if cache is None:
        return None
    with _lock:
        user_id = _token_users().get(_token_ref(token))
        entry = cache.get(user_id) if user_id is not None else None
    if entry is None or not entry.snapshot.enabled:
        return None
    check = CallerCheck(
        AUTH_TOKEN_PREFIX + token, str(user_id), f"{USER_VERSION_PREFIX}{user_id}", entry.version
    )
    return entry.snapshot, check


def _cached(cache: TTLCache | None, user_id: int, version: str | None) -> _Entry | None:
    if cache is None:
        return None
    with _lock:
        found = cache.get(user_id)
    return found if found is not None and found.version == version else None


def _read(cache: TTLCache, user_id: int, version: str) -> _Entry | None:
    copy = db_driver.get_detached(User, user_id)
    return None if copy is None else _remember(cache, user_id, version, copy)


def _detached_copy(user: User) -> User:
    copy = User(**{key: getattr(user, key) for key in _COLUMNS})
    make_transient_to_detached(copy)
    return copy


def _snapshot(copy: User):
    return AccountSnapshot(**{key: getattr(copy, key) for key in _COLUMNS})


def _remember(cache: TTLCache, user_id: int, version: str, copy: User) -> _Entry:
    entry = _Entry(version, copy, _snapshot(copy))
    with _lock:
        cache[user_id] = entry
    return entry


def _version_ttl_s() -> int:
    """As long as the login tokens it serves (then the account is read every time)."""
    config = current_app.config
    return max(config["AUTH_TOKEN_TTL_S"], config["CALLER_CACHE_TTL_S"])


def logged_in(user_id: int) -> None:
    """Give the account a version if it has none (at login, next to the new token)."""
    get_token_store().add(f"{USER_VERSION_PREFIX}{user_id}", _new_version(), _version_ttl_s())


def _new_version() -> str:
    return secrets.token_hex(8)


def account_changed(user_ids) -> None:
    """Make every worker reload these accounts on their next request."""
    cache = current_app.extensions.get("caller_cache")
    store = get_token_store()
    for user_id in user_ids:
        if cache is not None:
            with _lock:
                cache.pop(user_id, None)
        try:
            store.set(f"{USER_VERSION_PREFIX}{user_id}", _new_version(), _version_ttl_s())
        except TokenStoreUnavailable:
            log.warning("account %s changed but its version could not be replaced", user_id)


@event.listens_for(Session, "before_flush")
def _note_changed_accounts(session: Session, flush_context, instances) -> None:
    changed = {
        obj.id
        for obj in session.dirty
        if isinstance(obj, User) and session.is_modified(obj, include_collections=False)
    }
    changed |= {obj.id for obj in session.deleted if isinstance(obj, User)}
    if changed:
        session.info.setdefault(_CHANGED, set()).update(changed)


@event.listens_for(Session, "after_commit")
def _bump_changed_accounts(session: Session) -> None:
    changed = session.info.pop(_CHANGED, None)
    if changed and has_app_context():
        account_changed(changed)


@event.listens_for(Session, "after_rollback")
def _forget_changed_accounts(session: Session) -> None:
    session.info.pop(_CHANGED, None)
