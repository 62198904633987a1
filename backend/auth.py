"""Who is calling: bearer tokens for the JSON API, Flask-Login sessions for the web app.

One place resolves the caller and checks roles; views declare what they need.
"""

from __future__ import annotations

import secrets

from flask import current_app, g, request
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError as CSRFValidationError

from backend.caller_cache import load_account, load_snapshot, logged_in
from backend.errors import AppError, Forbidden, Unauthorized
from backend.extensions import db, login_manager
from backend.models import User
from backend.token_store import AUTH_TOKEN_PREFIX, USER_VERSION_PREFIX, get_token_store

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def init_app(app) -> None:
    @app.before_request
    def forget_previous_caller():
        # g outlives a request when a test keeps an app context open; start clean.
        g.pop("caller", None)
        g.pop("caller_snapshot", None)
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


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


def resolve_caller(snapshot: bool = False) -> User | None:
    """The calling user, or None. A bad bearer token is an error, never anonymous.

    ``snapshot``: the caller is only read, so a bearer token's account may come as a
    read-only ``AccountSnapshot`` (``backend.caller_cache``), without the session."""
    if "caller" in g:
        return g.caller
    if snapshot and "caller_snapshot" in g:
        return g.caller_snapshot
    caller: User | None = None
    token = bearer_token()
    if token is not None:
        user_id, version = get_token_store().get_chained(
            AUTH_TOKEN_PREFIX + token, USER_VERSION_PREFIX
        )
        if user_id is None:
            raise Unauthorized("登录已失效,请重新登录", code="invalid_token")
        load = load_snapshot if snapshot else load_account
        caller = load(int(user_id), version)
        if caller is None or not caller.enabled:
            raise Unauthorized("账号不可用", code="invalid_token")
        g.auth_token = token
        if snapshot:
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


def require_caller(roles: tuple[str, ...] | None = None, snapshot: bool = False) -> User:
    caller = resolve_caller(snapshot)
    if caller is None:
        raise Unauthorized()
    if roles and caller.role not in roles:
        raise Forbidden()
    return caller
