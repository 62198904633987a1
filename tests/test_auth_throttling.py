"""Failed password logins are limited per username and per client address; once a limit
is full even the right password is refused (429) until the window ends."""

from __future__ import annotations

import pytest

from tests.factories import PASSWORD, create_user, error_of

THROTTLED = "登录尝试过于频繁,请稍后再试"


@pytest.fixture
def low_limits(app, monkeypatch):
    monkeypatch.setitem(app.config, "RATE_LIMIT_LOGIN_USER", "3/15 minutes")
    monkeypatch.setitem(app.config, "RATE_LIMIT_LOGIN_ADDRESS", "5/15 minutes")


def _login(api, username, password, address="127.0.0.1"):
    return api.post(
        "/auth/password",
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def test_failed_logins_lock_the_username_even_for_the_right_password(api, low_limits):
    user, other = create_user(), create_user()
    for _ in range(3):
        assert _login(api, user.username, "wrong-password").status_code == 401
    response = _login(api, user.username, PASSWORD)
    assert response.status_code == 429
    error = error_of(response)
    assert (error["code"], error["message"]) == ("rate_limited", THROTTLED)
    assert error["retry_after_s"] == 15 * 60
    assert _login(api, user.username, PASSWORD, address="10.0.0.2").status_code == 429
    assert _login(api, other.username, PASSWORD).status_code == 200


def test_unknown_usernames_are_limited_like_real_ones(api, low_limits):
    for _ in range(3):
        assert _login(api, "nobody", "guess").status_code == 401
    assert error_of(_login(api, "nobody", "guess"))["code"] == "rate_limited"


def test_successful_logins_are_not_counted(api, low_limits):
    user = create_user()
    for _ in range(4):
        assert _login(api, user.username, PASSWORD).status_code == 200
    for _ in range(2):
        assert _login(api, user.username, "wrong-password").status_code == 401
    assert _login(api, user.username, PASSWORD).status_code == 200


def test_failed_logins_are_limited_per_client_address(api, low_limits):
    users = [create_user() for _ in range(3)]
    for user in users[:2]:  # 2 + 2 + 1 failures from one address, under each username limit
        for _ in range(2):
            assert _login(api, user.username, "wrong-password").status_code == 401
    assert _login(api, users[2].username, "wrong-password").status_code == 401
    response = _login(api, users[2].username, PASSWORD)
    assert response.status_code == 429
    assert error_of(response)["message"] == THROTTLED
    assert _login(api, users[2].username, PASSWORD, address="10.0.0.2").status_code == 200


def test_with_redis_stopped_a_password_login_answers_503(make_app, throwaway_redis):
    user = create_user()
    other = make_app(REDIS_URL=throwaway_redis.url)
    client = other.test_client()
    throwaway_redis.kill()  # our own server, never the shared one
    body = {"username": user.username, "password": PASSWORD}
    response = client.post("/api/mp/v1/auth/password", json=body)
    assert response.status_code == 503
    assert error_of(response)["code"] == "token_store_unavailable"
    wrong = client.post("/api/mp/v1/auth/password", json=dict(body, password="wrong-password"))
    assert wrong.status_code == 503
