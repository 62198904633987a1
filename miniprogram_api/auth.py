"""Login, logout, real-name binding and the caller's own account."""

from __future__ import annotations

from flask import g, request

from backend.auth import issue_api_token, revoke_api_token
from backend.presenters import present_user
from backend.services import accounts, auth
from miniprogram_api import bp
from miniprogram_api.registry import ANYONE, LOGGED_IN, endpoint, obj

USER_SCHEMA = {"type": "object", "description": "the account, personal data masked"}
LOGIN_RESPONSE = obj(
    {"token": {"type": "string"}, "expires_in": {"type": "integer"}, "user": USER_SCHEMA},
    ["token", "expires_in", "user"],
)


def _login_response(user) -> dict:
    token, ttl = issue_api_token(user)
    return {"token": token, "expires_in": ttl, "user": present_user(user)}


@endpoint(
    bp,
    "/auth/password",
    "POST",
    summary="Log in with username and password (staff, demo accounts)",
    tags=["auth"],
    auth=ANYONE,
    body=obj(
        {
            "username": {"type": "string", "minLength": 1, "maxLength": 64},
            "password": {"type": "string", "minLength": 1, "maxLength": 200},
        },
        ["username", "password"],
    ),
    response=LOGIN_RESPONSE,
    errors=[401, 429, 503],
)
def password_login(caller, body):
    user = accounts.log_in(body["username"], body["password"], request.remote_addr)
    return _login_response(user)


@endpoint(
    bp,
    "/auth/wechat",
    "POST",
    summary="Log in from the mini-program with a wx.login code (code2Session)",
    tags=["auth"],
    auth=ANYONE,
    body=obj({"code": {"type": "string", "minLength": 1, "maxLength": 128}}, ["code"]),
    response=LOGIN_RESPONSE,
    errors=[401, 429, 503],
)
def wechat_login(caller, body):
    return _login_response(auth.login_with_wechat(body["code"]))


@endpoint(
    bp,
    "/auth/bind",
    "POST",
    summary="Real-name binding of a citizen account to a person not yet bound (rate-limited)",
    tags=["auth"],
    body=obj(
        {
            "name": {"type": "string", "minLength": 1, "maxLength": 50},
            "id_number": {"type": "string", "minLength": 1, "maxLength": 18},
            "phone": {"type": "string", "minLength": 1, "maxLength": 11},
        },
        ["name", "id_number", "phone"],
    ),
    response=USER_SCHEMA,
    errors=[403, 409, 422, 429, 503],
)
def bind(caller, body):
    user = accounts.bind_real_name(caller, body["name"], body["id_number"], body["phone"])
    return present_user(user)


@endpoint(bp, "/auth/logout", "POST", summary="Revoke the bearer token", tags=["auth"])
def logout(caller):
    token = g.get("auth_token")
    if token:
        revoke_api_token(token)
    return {"status": "ok"}


@endpoint(
    bp, "/me", summary="The caller's account", tags=["auth"], auth=LOGGED_IN, response=USER_SCHEMA
)
def me(caller):
    return present_user(caller)
