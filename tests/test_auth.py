from backend.extensions import db
from backend.models import Role, User
from tests.factories import (
    PASSWORD,
    create_user,
    error_of,
    valid_id_number,
)


def test_password_login_returns_a_token_that_works_for_me(api):
    user = create_user(Role.SUPERVISOR)
    response = api.post("/auth/password", json={"username": user.username, "password": PASSWORD})
    assert response.status_code == 200
    body = response.get_json()
    assert body["expires_in"] > 0
    me = api.get("/me", token=body["token"])
    assert me.status_code == 200
    assert me.get_json()["role"] == "supervisor"


def test_wrong_password_is_refused_with_invalid_credentials(api):
    user = create_user()
    response = api.post("/auth/password", json={"username": user.username, "password": "wrong-one"})
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_credentials"


def test_unknown_username_gets_the_same_answer_as_a_wrong_password(api):
    response = api.post("/auth/password", json={"username": "nobody", "password": "whatever"})
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_credentials"


def test_disabled_account_cannot_log_in(api):
    user = create_user(enabled=False)
    response = api.post("/auth/password", json={"username": user.username, "password": PASSWORD})
    assert response.status_code == 401


def test_a_bearer_token_after_logout_is_refused(api):
    token = api.login(create_user())
    assert api.post("/auth/logout", token=token).status_code == 200
    response = api.get("/me", token=token)
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_token"


def test_me_without_a_token_is_401(api):
    response = api.get("/me")
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"


def test_a_made_up_bearer_token_is_refused(api):
    response = api.get("/me", token="made-up")
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_token"


def test_me_masks_the_id_number(api):
    user = create_user()
    body = api.get("/me", token=api.login(user)).get_json()
    masked = body["person"]["id_number_masked"]
    assert "*" * 10 in masked and len(masked) == 18


def test_wechat_login_creates_an_account_for_a_new_openid(api, fake_wechat):
    fake_wechat.add_login_code("good-code", "openid-abc")
    response = api.post("/auth/wechat", json={"code": "good-code"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["user"]["wechat_bound"] is True
    assert body["user"]["real_name_bound"] is False
    assert ("GET", "/cgi-bin/token") in fake_wechat.state.requests
    assert ("GET", "/sns/jscode2session") in fake_wechat.state.requests
    assert db.session.query(User).filter_by(wechat_openid="openid-abc").count() == 1


def test_wechat_login_twice_maps_to_the_same_account(api, fake_wechat):
    fake_wechat.add_login_code("c1", "openid-same")
    fake_wechat.add_login_code("c2", "openid-same")
    first = api.post("/auth/wechat", json={"code": "c1"}).get_json()["user"]["id"]
    second = api.post("/auth/wechat", json={"code": "c2"}).get_json()["user"]["id"]
    assert first == second


def test_a_wrong_wechat_code_is_401_wechat_login_failed(api, fake_wechat):
    response = api.post("/auth/wechat", json={"code": "not-issued-by-wechat"})
    assert response.status_code == 401
    assert error_of(response)["code"] == "wechat_login_failed"


def test_wechat_rate_limit_is_429(api, fake_wechat):
    fake_wechat.state.rate_limited_codes.add("busy")
    response = api.post("/auth/wechat", json={"code": "busy"})
    assert response.status_code == 429
    assert error_of(response)["code"] == "wechat_rate_limited"


def test_wechat_unreachable_is_503(app, api, fake_wechat):
    client = app.extensions.pop("wechat_client", None)
    saved = app.config["WECHAT_API_BASE_URL"]
    app.config["WECHAT_API_BASE_URL"] = "http://127.0.0.1:9/"  # nothing listens on the discard port
    try:
        response = api.post("/auth/wechat", json={"code": "any"})
    finally:
        app.config["WECHAT_API_BASE_URL"] = saved
        app.extensions.pop("wechat_client", None)
        if client is not None:
            app.extensions["wechat_client"] = client
    assert response.status_code == 503
    assert error_of(response)["code"] == "wechat_unavailable"


def _wechat_token(api, fake_wechat, openid="openid-bind") -> str:
    fake_wechat.add_login_code("code-" + openid, openid)
    return api.post("/auth/wechat", json={"code": "code-" + openid}).get_json()["token"]


def test_binding_a_real_name_links_the_account_to_a_citizen(api, fake_wechat):
    token = _wechat_token(api, fake_wechat)
    id_number = valid_id_number(7)
    response = api.post(
        "/auth/bind",
        token=token,
        json={"name": "赵敏", "id_number": id_number, "phone": "13612345678"},
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["real_name_bound"] is True
    assert body["person"]["id_number_masked"] == id_number[:4] + "*" * 10 + id_number[-4:]
    assert body["display_name"] == "赵敏"


def test_binding_with_a_bad_check_digit_is_422_invalid_id_number(api, fake_wechat):
    token = _wechat_token(api, fake_wechat)
    good = valid_id_number(8)
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    response = api.post(
        "/auth/bind", token=token, json={"name": "赵敏", "id_number": bad, "phone": "13612345678"}
    )
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid_id_number"
    assert error["field"] == "id_number"


def test_binding_with_a_bad_phone_names_the_field(api, fake_wechat):
    token = _wechat_token(api, fake_wechat)
    response = api.post(
        "/auth/bind",
        token=token,
        json={"name": "赵敏", "id_number": valid_id_number(9), "phone": "12345"},
    )
    assert response.status_code == 422
    assert error_of(response)["field"] == "phone"


def test_binding_a_name_that_does_not_match_the_known_person_is_refused(api, fake_wechat):
    citizen = create_user()
    token = _wechat_token(api, fake_wechat)
    from backend.services.accounts import person_id_number

    response = api.post(
        "/auth/bind",
        token=token,
        json={
            "name": "冒名者",
            "id_number": person_id_number(citizen.person),
            "phone": "13612345678",
        },
    )
    assert response.status_code == 422
    assert error_of(response)["code"] == "identity_mismatch"
