"""The one decorator every JSON endpoint is declared with.

``endpoint`` binds a view to the blueprint, resolves the caller and checks roles,
validates the body and query string against the declared schemas, and records all of it
for the OpenAPI document, so the document cannot drift from the routes.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, jsonify

from backend.auth import require_caller, resolve_caller, with_provisional_caller
from backend.validation import read_json_body, read_query

ANYONE = "anyone"
LOGGED_IN = "logged_in"


@dataclass
class EndpointSpec:
    path: str
    method: str
    summary: str
    tags: list[str]
    auth: str | tuple[str, ...]
    body: dict | None
    query: dict | None
    response: dict | None
    status: int
    errors: list[int]
    content_type: str = "application/json"
    request_content_type: str | None = None
    description: str = ""


@dataclass
class Registry:
    endpoints: list[EndpointSpec] = field(default_factory=list)


REGISTRY = Registry()
_CONVERTER = re.compile(r"<(?:[a-z]+:)?([a-zA-Z_]+)>")


def openapi_path(rule: str) -> str:
    return _CONVERTER.sub(r"{\1}", rule)


def document(spec: EndpointSpec) -> None:
    """Record an endpoint for the OpenAPI document (routes outside the blueprint use this)."""
    REGISTRY.endpoints.append(spec)


def endpoint(
    bp: Blueprint,
    rule: str,
    method: str = "GET",
    *,
    summary: str,
    tags: list[str] | None = None,
    auth: str | tuple[str, ...] = LOGGED_IN,
    body: dict | None = None,
    query: dict | None = None,
    response: dict | None = None,
    status: int = 200,
    errors: list[int] | None = None,
    content_type: str = "application/json",
    request_content_type: str | None = None,
    raw_body: bool = False,
    caller_snapshot: bool = False,
):
    """Declare a JSON endpoint.

    ``auth`` is ``ANYONE``, ``LOGGED_IN`` or a tuple of roles. The view receives
    ``caller`` (when auth is required), ``body`` and ``query`` (when declared) and the
    path arguments; it returns a dict, a list, or a ready response. ``caller_snapshot``:
    the view only reads the caller's columns, so a bearer caller may come as a read-only
    ``AccountSnapshot`` (no session: the hot paths), provisionally from the worker's
    memory: the view's token-store step must take the check (``auth.take_caller_check``)
    and nothing before that step may write (``auth.with_provisional_caller``).
    """

    prefix = bp.url_prefix or ""
    document(
        EndpointSpec(
            path=openapi_path(prefix + rule),
            method=method.lower(),
            summary=summary,
            tags=tags or [bp.name],
            auth=auth,
            body=body,
            query=query,
            response=response,
            status=status,
            errors=errors or [],
            content_type=content_type,
            request_content_type=request_content_type
            or ("application/json" if body is not None else None),
        )
    )

    def decorator(view):
        def run(path_args: dict[str, Any], provisional: bool):
            kwargs: dict[str, Any] = dict(path_args)
            if auth == ANYONE:
                kwargs["caller"] = resolve_caller()
            else:
                roles = None if auth == LOGGED_IN else tuple(auth)
                kwargs["caller"] = require_caller(roles, caller_snapshot, provisional)
            if body is not None:
                kwargs["body"] = read_json_body(body)
            elif not raw_body and method in ("POST", "PUT", "PATCH"):
                read_json_body(None)  # still reject malformed JSON on body-less actions
            if query is not None:
                kwargs["query"] = read_query(query)
            result = view(**kwargs)
            if isinstance(result, (dict, list)):
                response_obj = jsonify(result)
                response_obj.status_code = status
                return response_obj
            return result

        @functools.wraps(view)
        def wrapper(**path_args: Any):
            if caller_snapshot and auth != ANYONE:
                return with_provisional_caller(lambda provisional: run(path_args, provisional))
            return run(path_args, False)

        endpoint_name = f"{method.lower()}_{view.__name__}"
        bp.add_url_rule(rule, endpoint=endpoint_name, view_func=wrapper, methods=[method])
        return wrapper

    return decorator


def obj(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict:
    """A closed JSON object schema: unknown fields are rejected."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    schema.update(extra)
    return schema


def page_query(extra: dict[str, Any] | None = None) -> dict:
    """The paging arguments every list endpoint takes."""
    props = {
        "page": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
        "per_page": {"type": "integer", "minimum": 1, "maximum": 100},
    }
    props.update(extra or {})
    return obj(props)
