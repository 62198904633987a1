"""One error envelope for every failure."""

import pytest

from tests.factories import API, ApiClient, create_user, error_of


def test_malformed_json_is_400_invalid_json(api):
    response = api.post(
        "/auth/password", data='{"username": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_json"


def test_an_unknown_field_is_400_naming_it(api):
    response = api.post("/auth/password", json={"username": "a", "password": "b", "shoe_size": 42})
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "unknown_field"
    assert error["field"] == "shoe_size"
    assert "shoe_size" in error["message"]


def test_a_wrong_type_is_400_naming_the_field(api):
    response = api.post("/auth/password", json={"username": 12, "password": "b"})
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_type"
    assert error["field"] == "username"


def test_every_missing_field_is_reported_at_once(api):
    response = api.post("/auth/password", json={})
    assert response.status_code == 400
    fields = {d["field"] for d in error_of(response)["details"]}
    assert fields == {"username", "password"}


def test_a_body_that_is_not_an_object_is_rejected(api):
    response = api.post("/auth/password", json=["a"])
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_type"


def test_a_non_json_content_type_is_415(api):
    response = api.post("/auth/password", data="username=a", content_type="text/plain")
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


def test_unknown_api_path_is_a_json_404(client):
    response = client.get(API + "/no-such-thing")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_wrong_method_is_a_json_405(client):
    response = client.get(API + "/auth/password")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


def test_a_too_large_body_is_a_json_413(app, client):
    body = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    response = client.post(API + "/auth/password", data=body, content_type="application/json")
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


@pytest.fixture
def probe_app(make_app):
    """A second app on the same database with throwaway routes added before first use."""
    from flask import Blueprint

    from miniprogram_api.registry import REGISTRY, endpoint

    probe = make_app()
    bp = Blueprint("probe", __name__, url_prefix="/api/mp/v1/probe")

    @endpoint(bp, "/supervisors-only", auth=("supervisor",), summary="probe")
    def supervisors_only(caller):
        return {"ok": True}

    @bp.get("/boom")
    def boom():
        raise RuntimeError("secret internal detail")

    probe.register_blueprint(bp)
    yield probe
    REGISTRY.endpoints[:] = [e for e in REGISTRY.endpoints if "/probe/" not in e.path]


def test_a_role_that_may_not_call_an_endpoint_gets_403(probe_app):
    probe_api = ApiClient(probe_app.test_client())
    token = probe_api.login(create_user())
    response = probe_api.get("/probe/supervisors-only", token=token)
    assert response.status_code == 403
    assert error_of(response)["code"] == "forbidden"


def test_an_unexpected_exception_is_a_500_without_internals(probe_app):
    response = probe_app.test_client().get("/api/mp/v1/probe/boom")
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "internal_error"
    assert b"secret internal detail" not in response.data
    assert b"Traceback" not in response.data


def test_web_pages_get_html_errors(client):
    response = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert "text/html" in response.content_type
    assert "资源不存在" in response.get_data(as_text=True)


def test_every_response_carries_a_request_id(client):
    response = client.get("/healthz")
    assert len(response.headers["X-Request-ID"]) >= 8
    echoed = client.get("/healthz", headers={"X-Request-ID": "abcdef123456"})
    assert echoed.headers["X-Request-ID"] == "abcdef123456"


def test_a_path_id_beyond_the_databases_integers_is_a_404_not_a_500(api, seeded):
    """A route's ``<int:...>`` stops at PostgreSQL's ``integer``: a larger id names no row."""
    assert api.get("/themes/2147483647").status_code == 404  # the largest id: looked up
    response = api.get("/themes/99999999999")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
