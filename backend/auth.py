"""Who is calling: bearer tokens for the JSON API, Flask-Login sessions for the web app.

One place resolves the caller and checks roles; views declare what they need.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import TypeVar

from flask import current_app, g, request
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError as CSRFValidationError

from backend import caller_cache
from backend.caller_cache import load_account, load_snapshot, logged_in
from backend.errors import AppError, Forbidden, Unauthorized
from backend.extensions import db, login_manager
from backend.models import User
from backend.token_store import (
    AUTH_TOKEN_PREFIX,
    USER_VERSION_PREFIX,
    CallerCheck,
    CallerCheckFailed,
    get_token_store,
)

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
T = TypeVar("T")


def init_app(app) -> None:
    @app.before_request
    def forget_previous_caller():
        # g outlives a request when a test keeps an app context open; start clean.
        g.pop("caller", None)
        g.pop("caller_snapshot", None)
        g.pop("caller_check", None)
        g.pop("auth_token", None)


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


def issue_api_token(user: User) -> tuple[str, int]:
    """A random bearer token kept in the token store with a TTL."""
    token = secrets.token_urlsafe(32)
    ttl = current_app.config["AUTH_TOKEN_TTL_S"]
    get_token_store().set(AUTH_TOKEN_PREFIX + token, str(user.id), ttl)
    logged_in(user.id)
    return token, ttl


def revoke_api_token(token: str) -> None:
    get_token_store().delete(AUTH_TOKEN_PREFIX + token)
    caller_cache.token_gone(token)


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


def _token_invalid() -> Unauthorized:
    return Unauthorized("登录已失效,请重新登录", code="invalid_token")


def resolve_caller(snapshot: bool = False, provisional: bool = False) -> User | None:
    """The calling user, or None. A bad bearer token is an error, never anonymous.

    ``snapshot``: the caller is only read, so a bearer token's account may come as a
    read-only ``AccountSnapshot`` (``backend.caller_cache``), without the session.
    ``provisional``: the snapshot may also come unconfirmed, from this worker's memory,
    with a ``CallerCheck`` left in ``g`` for the request's token-store step to confirm
    (``take_caller_check``; ``settle_caller_check`` confirms it otherwise)."""
    if "caller" in g:
        return g.caller
    if snapshot and "caller_snapshot" in g:
        return g.caller_snapshot
    caller: User | None = None
    token = bearer_token()
    if token is not None:
        found = caller_cache.provisional(token) if snapshot and provisional else None
        if found is not None:
            g.caller_snapshot, g.caller_check = found
            g.auth_token = token
            return g.caller_snapshot
        user_id, version = get_token_store().get_chained(
            AUTH_TOKEN_PREFIX + token, USER_VERSION_PREFIX
        )
        if user_id is None:
            caller_cache.token_gone(token)
            raise _token_invalid()
        load = load_snapshot if snapshot else load_account
        caller = load(int(user_id), version)
        if caller is None or not caller.enabled:
            raise Unauthorized("账号不可用", code="invalid_token")
        g.auth_token = token
        if snapshot:
            caller_cache.token_seen(token, caller.id)
            g.caller_snapshot = caller
            return caller
    elif current_user.is_authenticated:
        # Cookie sessions ride along automatically, so state changes need the CSRF token.
        if request.method not in SAFE_METHODS:
            try:
                validate_csrf(request.headers.get("X-CSRFToken"))
            except CSRFValidationError as exc:
                raise AppError(
                    "页面已过期或请求来源不可信,请刷新后重试", code="csrf_failed"
                ) from exc
        caller = current_user._get_current_object()
    g.caller = caller
    return caller


def take_caller_check() -> CallerCheck | None:
    """The request's unconfirmed caller check, for the token-store step that confirms it
    (it is the step's to confirm from then on: a failure raises ``CallerCheckFailed``)."""
    return g.pop("caller_check", None)


def settle_caller_check() -> None:
    """Confirm a caller check no token-store step took, before the answer goes out:
    ``CallerCheckFailed`` when the token or the account moved on."""
    check = g.pop("caller_check", None)
    if check is None:
        return
    user_id, version = get_token_store().get_chained(check.token_key, USER_VERSION_PREFIX)
    if user_id != check.user_id:
        raise CallerCheckFailed("token")
    if version != check.version:
        raise CallerCheckFailed("version")


def caller_check_failed(failed: CallerCheckFailed) -> None:
    """After a failed check: forget the provisional caller; a token that no longer names
    the account is a 401 (raised here); for a changed account the caller must be read
    afresh (the request is run once more)."""
    g.pop("caller_snapshot", None)
    g.pop("caller_check", None)
    token = g.pop("auth_token", None)
    if failed.reason == "token":
        if token is not None:
            caller_cache.token_gone(token)
        raise _token_invalid()


def with_provisional_caller(run: Callable[[bool], T]) -> T:
    """``run(True)``: a request whose caller may come provisionally. Its caller check is
    confirmed before any answer, an error included; when the account changed since the
    worker's copy, the request runs once more, ``run(False)``, with the caller read
    afresh (what ran before only read: the step that writes is the one that checks)."""
    try:
        try:
            result = run(True)
        except Exception:  # an error too goes out only to a confirmed caller
            settle_caller_check()
            raise
        settle_caller_check()
        return result
    except CallerCheckFailed as failed:
        caller_check_failed(failed)
        return run(False)


def require_caller(
    roles: tuple[str, ...] | None = None, snapshot: bool = False, provisional: bool = False
) -> User:
    caller = resolve_caller(snapshot, provisional)
    if caller is None:
        raise Unauthorized()
    if roles and caller.role not in roles:
        raise Forbidden()
    return caller
