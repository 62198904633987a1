import re

from tests.factories import PASSWORD, create_user


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_the_login_form_logs_in_with_its_csrf_token(client):
    user = create_user()
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login",
        data={"username": user.username, "password": PASSWORD, "csrf_token": _csrf(page)},
    )
    assert response.status_code == 302
    assert user.display_name in client.get("/me").get_data(as_text=True)


def test_a_form_post_without_csrf_token_is_400(client):
    user = create_user()
    response = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 400
    assert "页面已过期" in response.get_data(as_text=True)


def test_a_wrong_password_shows_an_error_on_the_form(client):
    user = create_user()
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login", data={"username": user.username, "password": "nope", "csrf_token": _csrf(page)}
    )
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)


def test_a_cookie_session_calling_the_api_needs_the_csrf_header(client):
    user = create_user()
    page = client.get("/login").get_data(as_text=True)
    token = _csrf(page)
    client.post(
        "/login", data={"username": user.username, "password": PASSWORD, "csrf_token": token}
    )
    assert client.get("/api/mp/v1/me").status_code == 200
    refused = client.post("/api/mp/v1/auth/logout")
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "csrf_failed"
    accepted = client.post("/api/mp/v1/auth/logout", headers={"X-CSRFToken": token})
    assert accepted.status_code == 200


def test_pages_carry_security_headers(client):
    response = client.get("/login")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_session_cookie_is_httponly_and_samesite(client):
    user = create_user()
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login", data={"username": user.username, "password": PASSWORD, "csrf_token": _csrf(page)}
    )
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_the_form_refuses_with_429_once_failed_logins_fill_the_limit(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "RATE_LIMIT_LOGIN_USER", "2/15 minutes")
    user = create_user()
    token = _csrf(client.get("/login").get_data(as_text=True))
    for _ in range(2):
        response = client.post(
            "/login", data={"username": user.username, "password": "nope", "csrf_token": token}
        )
        assert response.status_code == 401
    response = client.post(
        "/login", data={"username": user.username, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 429
    page = response.get_data(as_text=True)
    assert "登录尝试过于频繁,请稍后再试" in page and 'name="password"' in page
    assert client.get("/me").status_code == 302  # not logged in
