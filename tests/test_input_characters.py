"""A NUL character is refused on every input channel with 400 ``invalid_character``.

PostgreSQL cannot store U+0000 in text: without the up-front check these requests were 500s
there (psycopg's DataError). The same 400 is expected on SQLite.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, text

from backend.extensions import db
from backend.models import Complaint
from backend.validation import refuse_nul
from tests.factories import API, PASSWORD, create_user, error_of


def assert_invalid_character(response, field: str) -> None:
    assert response.status_code == 400, response.data[:300]
    error = error_of(response)
    assert error["code"] == "invalid_character"
    assert error["field"] == field
    assert "不允许的控制字符" in error["message"]


def _csrf(client) -> str:
    html = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_a_nul_in_a_json_body_is_refused_naming_the_field(api):
    response = api.post("/auth/password", json={"username": "a\u0000", "password": "x"})
    assert_invalid_character(response, "username")


def test_a_nul_in_a_json_key_or_nested_value_is_refused(api):
    response = api.post("/auth/password", json={"username": "a", "password": "x", "k\u0000": 1})
    assert_invalid_character(response, "k\\u0000")
    response = api.post(
        "/auth/password", json={"username": ["ok", {"deep": "x\u0000"}], "password": "x"}
    )
    assert_invalid_character(response, "username.1.deep")


def test_a_nul_in_a_utf16_json_body_is_refused(api):
    raw = '{"username": "a\\u0000", "password": "x"}'.encode("utf-16")
    response = api.post("/auth/password", data=raw, headers={"Content-Type": "application/json"})
    assert_invalid_character(response, "username")


def test_an_escaped_backslash_before_u0000_is_not_a_nul(api):
    user = create_user()
    response = api.post("/auth/password", json={"username": "a\\u0000", "password": PASSWORD})
    assert response.status_code == 401  # a plain wrong username, looked up like any other
    assert error_of(response)["code"] == "invalid_credentials"
    assert api.login(user)


def test_a_nul_in_a_query_argument_is_refused(client):
    response = client.get(API + "/exemption-list?q=%00")
    assert_invalid_character(response, "q")
    response = client.get(API + "/exemption-list?q=ok&category=a%00b")
    assert_invalid_character(response, "category")


def test_a_nul_in_a_path_segment_is_refused(client):
    assert_invalid_character(client.get(API + "/certificate-types/%00"), "code")
    assert_invalid_character(client.get(API + "/certificate-types/id%00card"), "code")
    # A path no route matches names the path itself.
    assert_invalid_character(client.get(API + "/no-such%00thing"), "path")


def test_a_nul_in_a_login_form_field_gives_an_error_page_not_a_500(client):
    token = _csrf(client)
    response = client.post(
        "/login", data={"username": "citizen\x00", "password": "x", "csrf_token": token}
    )
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "包含不允许的控制字符" in response.get_data(as_text=True)


def test_a_nul_in_a_complaint_form_writes_nothing(client):
    user = create_user()
    token = _csrf(client)
    client.post(
        "/login", data={"username": user.username, "password": PASSWORD, "csrf_token": token}
    )
    response = client.post(
        "/complaints/new",
        data={"csrf_token": token, "office_name": "窗口\x00", "demanded_material": "证明"},
    )
    assert response.status_code == 400
    assert "包含不允许的控制字符" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Complaint.id))) == 0


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("ok", None),
        ({"a": ["x", 1, None, {"b": "ok"}]}, None),
        ("a\x00", "body"),
        ({"a": ["x", {"b": "y\x00"}]}, "body.a.1.b"),
        ({"a\x00b": 1}, "body.a\\u0000b"),
    ],
)
def test_refuse_nul_walks_strings_keys_lists_and_objects(value, field):
    from backend.errors import ValidationFailed

    if field is None:
        refuse_nul(value, "body")
        return
    with pytest.raises(ValidationFailed) as caught:
        refuse_nul(value, "body")
    assert caught.value.code == "invalid_character" and caught.value.field == field


def test_a_nul_the_database_refuses_anyway_is_a_400_not_a_500(make_app):
    """The safety net behind the up-front checks: PostgreSQL refuses a NUL in a text
    parameter (psycopg) and a ``\\u0000`` in jsonb (the server); SQLite stores both."""
    application = make_app()

    @application.get("/test-nul/<kind>")
    def write_nul(kind):
        value = "a\x00" if kind == "text" else '"a\\u0000"'
        db.session.execute(text(f"SELECT CAST(:v AS {kind.upper()})"), {"v": value})
        return {"ok": True}

    client = application.test_client()
    with application.app_context():
        postgresql = db.engine.dialect.name == "postgresql"
    for kind in ("text", "jsonb"):
        response = client.get(f"/test-nul/{kind}", headers={"Accept": "application/json"})
        if postgresql:
            assert response.status_code == 400, response.data[:300]
            assert error_of(response)["code"] == "invalid_character"
        else:
            assert response.status_code == 200
