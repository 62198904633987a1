"""Form posts validated with the same JSON schemas as the API; errors shown next to fields."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import request, url_for

from backend.errors import AppError
from backend.validation import coerce_integer, validate

PER_PAGE = 20
PAGE_QUERY = {
    "type": "object",
    "properties": {"page": {"type": "integer", "minimum": 1, "maximum": 10000}},
}


def page_number() -> int:
    """The ``page`` query argument of a list page (400 naming the field when it is bad)."""
    return validate(PAGE_QUERY, {"page": coerce_integer(request.args.get("page", "1"))})["page"]


def page_url(page: int) -> str:
    """This list page's address for another page: the route's own arguments, then the
    query string as it came with ``page`` replaced. Query keys never become ``url_for``
    keywords: ``_method`` made it raise (a 500) and ``_external`` made links absolute."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]
    args.append(("page", str(page)))
    return url_for(request.endpoint, **(request.view_args or {})) + "?" + urlencode(args)


def form_body(schema: dict, integers: tuple[str, ...] = ()) -> dict[str, Any]:
    """The posted fields the schema knows, trimmed; empty optional fields left out."""
    props = schema.get("properties", {})
    required = set(schema.get("required", ()))
    body: dict[str, Any] = {}
    for name in props:
        value = request.form.get(name, "").strip()
        if not value and name not in required:
            continue
        if name in integers:
            body[name] = coerce_integer(value)  # the schema reports a bad one, field named
            continue
        body[name] = value
    return validate(schema, body)


# Schema messages name the field in English; next to a labelled field the label says more.
_SCHEMA_CODES = ("missing_field", "invalid_value", "invalid_type", "invalid_date")


def field_errors(error: AppError, labels: dict[str, str]) -> dict[str, str]:
    """``{field: Chinese message}`` for every field an error names."""
    details = error.details or [{"field": error.field, "message": error.message}]
    out: dict[str, str] = {}
    for detail in details:
        field = detail.get("field")
        if field in labels and field not in out:
            out[field] = (
                f"请正确填写{labels[field]}" if error.code in _SCHEMA_CODES else detail["message"]
            )
    return out
