"""The OpenAPI document is valid and lists every JSON route."""

from openapi_spec_validator import validate

from miniprogram_api.registry import openapi_path


def test_the_document_is_valid_openapi(client):
    document = client.get("/api/openapi.json").get_json()
    validate(document)


def test_every_api_route_is_in_the_document(app, client):
    document = client.get("/api/openapi.json").get_json()
    documented = {
        (path, method.upper()) for path, ops in document["paths"].items() for method in ops
    }
    missing = []
    for rule in app.url_map.iter_rules():
        if not (rule.rule.startswith("/api/mp/v1") or rule.rule in ("/healthz",)):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if (openapi_path(rule.rule), method) not in documented:
                missing.append((rule.rule, method))
    assert missing == []


def test_documented_core_paths_are_present(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    for path in ("/api/mp/v1/auth/password", "/api/mp/v1/auth/wechat", "/api/mp/v1/me", "/healthz"):
        assert path in paths
