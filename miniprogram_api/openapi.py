"""The OpenAPI 3.1 document, built from the endpoint registry (``/api/openapi.json``)."""

from __future__ import annotations

import copy
import re
from typing import Any

from flask import Blueprint, jsonify

from miniprogram_api.registry import ANYONE, LOGGED_IN, REGISTRY, EndpointSpec

bp = Blueprint("openapi", __name__)

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "stable machine code"},
                "message": {"type": "string", "description": "message in Simplified Chinese"},
                "field": {"type": "string", "description": "the offending field, if any"},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "field": {"type": "string"},
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                        },
                    },
                },
            },
        }
    },
}

_PARAM = re.compile(r"{([a-zA-Z_]+)}")


def _operation(spec: EndpointSpec) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": spec.summary,
        "tags": spec.tags,
        "operationId": f"{spec.method}_{spec.path}".replace("/", "_")
        .replace("{", "")
        .replace("}", ""),
    }
    if spec.auth != ANYONE:
        op["security"] = [{"bearer": []}, {"session": []}]
        if spec.auth != LOGGED_IN:
            op["description"] = "Roles: " + ", ".join(spec.auth)
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(spec.path)
    ]
    if spec.query:
        for name, schema in spec.query.get("properties", {}).items():
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in spec.query.get("required", []),
                    "schema": copy.deepcopy(schema),
                }
            )
    if params:
        op["parameters"] = params
    if spec.request_content_type:
        body_schema = copy.deepcopy(spec.body) if spec.body is not None else {"type": "string"}
        op["requestBody"] = {
            "required": True,
            "content": {spec.request_content_type: {"schema": body_schema}},
        }
    success_schema = copy.deepcopy(spec.response) if spec.response else {"type": "object"}
    responses: dict[str, Any] = {
        str(spec.status): {
            "description": "OK",
            "content": {spec.content_type: {"schema": success_schema}},
        }
    }
    error_statuses = set(spec.errors)
    if spec.body is not None or spec.query is not None:
        error_statuses.add(400)
    if spec.body is not None:
        error_statuses.add(415)
    if spec.auth != ANYONE:
        error_statuses.add(401)
    if spec.auth not in (ANYONE, LOGGED_IN):
        error_statuses.add(403)
    for status in sorted(error_statuses):
        responses[str(status)] = {"$ref": "#/components/responses/Error"}
    op["responses"] = responses
    return op


def build_document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for spec in REGISTRY.endpoints:
        paths.setdefault(spec.path, {})[spec.method] = _operation(spec)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "无证明城市 certificate-free city API",
            "version": "1.0.0",
            "description": "JSON API shared by the WeChat mini-program and the mobile web app. "
            "Every failure answers the Error envelope with a stable code.",
        },
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "responses": {
                "Error": {
                    "description": "Failure: a stable code and a Chinese message",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
    }


@bp.get("/api/openapi.json")
def openapi_json():
    return jsonify(build_document())
