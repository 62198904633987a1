"""Declarative input validation with JSON Schema; every error names its field.

Views never check input by hand: the endpoint decorator validates the body and the
query string against the schemas declared next to the view, and this module turns
``jsonschema`` errors into one ``ValidationFailed`` listing every problem at once.

Rules every input obeys, whatever its channel, also live here, once: no NUL character
(``refuse_nul``, ``check_request``), integers in query strings written in ASCII digits
(``coerce_integer``), and dates within ``EARLIEST_DAY`` .. ``LATEST_DAY`` (``parse_day``,
``parse_moment``, and the ``date`` format of every schema).

``jsonschema`` costs tens of microseconds per body, so a schema is also compiled to Python
by ``fastjsonschema``; a body it accepts is accepted at once. Only a body it refuses goes
through ``jsonschema``, which decides and names the fields. That is sound only where
``fastjsonschema`` is never the laxer of the two: ``_fast_check`` lists where that holds.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import fastjsonschema
from flask import Flask, current_app, request
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from backend.errors import AppError, UnprocessableEntity, ValidationFailed

# A row id as clients send it: beyond PostgreSQL's ``integer`` it can name no row, and the
# database would refuse the parameter (a 500) instead of the schema (a 400 naming it).
ROW_ID: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}

TYPE_NAMES = {
    "string": "字符串",
    "integer": "整数",
    "number": "数字",
    "boolean": "布尔值",
    "object": "对象",
    "array": "数组",
    "null": "空值",
}

# --- dates ---------------------------------------------------------------------------------

# Every date the platform accepts: wide enough for any certificate or record, narrow enough
# that date arithmetic (a day later, midnight in Shanghai as UTC) can never overflow, as it
# did near year 1 and year 9999 (OverflowError: a 500).
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2199, 12, 31)
DAY_RANGE_TEXT = f"{EARLIEST_DAY.isoformat()} 至 {LATEST_DAY.isoformat()}"
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


def parse_day(value: Any) -> date | None:
    """``YYYY-MM-DD`` (ASCII digits; surrounding spaces ignored) naming a day that exists
    within the accepted range, else None; a ``date`` is checked against the range too."""
    if isinstance(value, str):
        text = value.strip()
        if not _ISO_DAY.match(text):
            return None
        try:
            value = date.fromisoformat(text)
        except ValueError:
            return None
    elif not isinstance(value, date) or isinstance(value, datetime):
        return None
    return value if EARLIEST_DAY <= value <= LATEST_DAY else None


def parse_moment(value: Any) -> datetime | None:
    """An ISO 8601 date or date-time whose day is within the accepted range, else None.
    Naive results stay naive: the caller knows which zone the writer meant."""
    if not isinstance(value, str) or not _ISO_DAY.match(value.strip()[:10]):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parse_day(parsed.date()) is not None else None


FORMAT_CHECKER = FormatChecker(formats=())
FORMAT_CHECKER.checkers = dict(Draft202012Validator.FORMAT_CHECKER.checkers)


@FORMAT_CHECKER.checks("date")
def _is_date(instance: Any) -> bool:
    """The ``date`` format of every schema is ``parse_day`` (without surrounding spaces):
    an existing day within range."""
    if not isinstance(instance, str):
        return True
    return instance == instance.strip() and parse_day(instance) is not None


# --- NUL characters -------------------------------------------------------------------------

NUL = "\x00"
# In UTF-8 JSON text a NUL can only be written as this escape (a raw one is not JSON);
# a NUL byte means a UTF-16 or UTF-32 body, which the walk must then look at.
_JSON_NUL = b"\\u0000"
_RAW_NUL = b"\x00"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def invalid_character(field: str) -> ValidationFailed:
    return ValidationFailed(f"包含不允许的控制字符:{field}", code="invalid_character", field=field)


def _name(path: list[Any]) -> str:
    return ".".join(str(p) for p in path).replace(NUL, "\\u0000")


def refuse_nul(value: Any, field: str = "") -> None:
    """400 ``invalid_character`` naming the first string or key in ``value`` (decoded JSON,
    a list of cells, a string) that holds a NUL. PostgreSQL cannot store one in text
    (psycopg raises DataError), so it is refused before any service runs."""
    stack: list[tuple[Any, list[Any]]] = [(value, [field] if field else [])]
    while stack:  # no recursion: JSON may nest deeper than Python's recursion limit
        item, path = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                raise invalid_character(_name(path) or "body")
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and NUL in key:
                    raise invalid_character(_name([*path, key]))
                stack.append((child, [*path, key]))
        elif isinstance(item, list | tuple):
            stack.extend((child, [*path, i]) for i, child in enumerate(item))


def refuse_nul_in_upload(text: str, field: str = "file") -> None:
    """An uploaded text file (a CSV) holding a NUL (UTF-16 without a BOM, a binary file;
    PostgreSQL text cannot hold it either): 422 ``nul_character`` naming the file's first
    line with one, like the other file-content errors. One C-level scan when there is none."""
    at = text.find(NUL)
    if at < 0:
        return
    line = text.count("\n", 0, at) + 1
    raise UnprocessableEntity(
        f"文件第 {line} 行含有空字符(NUL),不是文本格式的 CSV,请另存为 UTF-8 格式的 CSV",
        code="nul_character",
        field=field,
        line=line,
    )


def _refuse_nul_in_fields(fields: Any) -> None:
    """A query string's or a form's fields (a MultiDict): 400 naming the first with a NUL."""
    for name, values in fields.lists():
        if NUL in name or any(NUL in v for v in values):
            raise invalid_character(_name([name]))


def check_request() -> None:
    """Before every request: no NUL in the path, the query string or form fields.

    A JSON request (the hot paths) costs a few substring tests on short strings; fields
    are only walked when the raw text could hold a NUL. JSON bodies: ``read_json_body``."""
    environ = request.environ
    if NUL in environ.get("PATH_INFO", ""):
        for name, value in (request.view_args or {}).items():
            if isinstance(value, str) and NUL in value:
                raise invalid_character(name)
        raise invalid_character("path")
    query = environ.get("QUERY_STRING", "")
    if "%00" in query or NUL in query:
        _refuse_nul_in_fields(request.args)
    content_type = environ.get("CONTENT_TYPE")
    if content_type and content_type[:16] != "application/json" and request.mimetype in _FORM_TYPES:
        _refuse_nul_in_fields(request.form)
        for name, upload in request.files.items(multi=True):
            if NUL in (upload.filename or ""):
                raise invalid_character(_name([name]))


def register_input_checks(app: Flask) -> None:
    app.before_request(check_request)


# --- integers in query strings ----------------------------------------------------------------

_ASCII_INTEGER = re.compile(r"(-?)0*([0-9]{1,18})\Z")
_LONG_INTEGER = re.compile(r"-?[0-9]+\Z")
_BEYOND_EVERY_BOUND = 10**18


def coerce_integer(text: str) -> int | str:
    """A query or form argument as an int when written in ASCII digits, else unchanged,
    for the schema to refuse naming the field. ``int()`` alone takes "١٢" and " 1_0 ",
    and raises on "²" (which ``str.isdigit`` accepts) and past 4,300 digits; a longer
    number becomes one past every bound here, so the schema says it is out of range."""
    match = _ASCII_INTEGER.match(text)
    if match:
        return int(match.group(1) + match.group(2))
    if _LONG_INTEGER.match(text):
        return -_BEYOND_EVERY_BOUND if text.startswith("-") else _BEYOND_EVERY_BOUND
    return text


# --- JSON Schema ----------------------------------------------------------------------------

_validators: dict[int, Draft202012Validator] = {}


def _validator(schema: dict) -> Draft202012Validator:
    key = id(schema)
    if key not in _validators:
        Draft202012Validator.check_schema(schema)
        _validators[key] = Draft202012Validator(schema, format_checker=FORMAT_CHECKER)
    return _validators[key]


# Keywords fastjsonschema (draft 7) reads as jsonschema's 2020-12 validator does, or more
# strictly (it compares booleans against "minimum"; it reads a pattern's "$" as "\Z").
# Left out on purpose: "format" (each library checks a different set of formats), "not" and
# "oneOf" (a stricter branch makes them laxer), "$ref" and draft-specific keywords.
_FAST_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "additionalProperties",
        "required",
        "minProperties",
        "maxProperties",
        "items",
        "minItems",
        "maxItems",
        "uniqueItems",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "enum",
        "description",
        "title",
        "default",
        "examples",
    }
)
_fast_checks: dict[int, Callable[[Any], Any] | None] = {}


def _fast_safe(schema: Any) -> bool:
    """Whether fastjsonschema can only be stricter than jsonschema on ``schema``."""
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, dict) or not schema.keys() <= _FAST_KEYWORDS:
        return False
    # Python's "in" finds True in [1]; jsonschema tells booleans from numbers.
    if not all(isinstance(v, str | None) for v in schema.get("enum", ())):
        return False
    # "$" turned into "\Z" is stricter, except inside a lookaround ("(?!...$)").
    if "(?" in schema.get("pattern", "").replace("(?:", ""):
        return False
    subschemas = [
        *schema.get("properties", {}).values(),
        schema.get("items", True),
        schema.get("additionalProperties", True),
    ]
    return all(_fast_safe(s) for s in subschemas)


def _fast_check(schema: dict) -> Callable[[Any], Any] | None:
    """The compiled check for ``schema``, or None when only jsonschema may judge it."""
    key = id(schema)
    if key not in _fast_checks:
        # Checks the schema once, as before, and keeps it alive, so its id is never reused.
        _validator(schema)
        check = None
        if _fast_safe(schema):
            try:
                # use_default=False: fastjsonschema would otherwise fill defaults into the body.
                check = fastjsonschema.compile(schema, use_default=False, detailed_exceptions=False)
            except Exception:  # a schema it cannot compile is left to jsonschema for good
                check = None
        _fast_checks[key] = check
    return _fast_checks[key]


def _join(path: list[Any], name: str | None = None) -> str:
    parts = [str(p) for p in path] + ([name] if name else [])
    return ".".join(parts)


def _describe(error: ValidationError) -> list[dict[str, str]]:
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extras = sorted(k for k in error.instance if k not in allowed)
        return [
            {"field": _join(path, k), "code": "unknown_field", "message": f"不允许的字段:{k}"}
            for k in extras
        ]
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [k for k in error.validator_value if k not in error.instance]
        return [
            {"field": _join(path, k), "code": "missing_field", "message": f"缺少必填字段:{k}"}
            for k in missing
        ]
    field = _join(path) or "body"
    if error.validator == "type":
        expected = error.validator_value
        names = [
            TYPE_NAMES.get(t, t) for t in (expected if isinstance(expected, list) else [expected])
        ]
        return [
            {
                "field": field,
                "code": "invalid_type",
                "message": f"字段类型错误:{field} 应为{'或'.join(names)}",
            }
        ]
    if error.validator == "format" and error.validator_value == "date":
        return [
            {
                "field": field,
                "code": "invalid_date",
                "message": f"日期无效:{field},应为 {DAY_RANGE_TEXT} 之间存在的日期,格式 YYYY-MM-DD",
            }
        ]
    if error.validator in ("minLength", "minItems") and error.validator_value == 1:
        return [{"field": field, "code": "missing_field", "message": f"字段不能为空:{field}"}]
    return [{"field": field, "code": "invalid_value", "message": f"字段取值无效:{field}"}]


def validate(schema: dict, data: Any) -> Any:
    """Raise ``ValidationFailed`` naming every bad field, or return ``data`` unchanged.

    ``data`` is what JSON decodes to (lists, not tuples: fastjsonschema takes a tuple for an
    array, jsonschema does not)."""
    check = _fast_check(schema)
    if check is not None:
        try:
            check(data)
            return data
        except fastjsonschema.JsonSchemaException:
            pass  # jsonschema decides, and names the fields
    errors = sorted(_validator(schema).iter_errors(data), key=lambda e: list(e.absolute_path))
    details: list[dict[str, str]] = []
    for error in errors:
        details.extend(_describe(error))
    if details:
        first = details[0]
        raise ValidationFailed(
            first["message"], code=first["code"], field=first["field"], details=details
        )
    return data


def read_json_body(schema: dict | None) -> Any:
    """The request's JSON body: 415 when it is not JSON, 400 ``invalid_json`` when malformed
    or beyond what the app reads (NaN, integers past 64 bits: see ``backend.json_provider``)."""
    raw = request.get_data(cache=True)
    if not raw:
        data: Any = {}
    else:
        if not request.is_json:
            raise AppError(
                "不支持的内容类型,请使用 application/json",
                code="unsupported_media_type",
                status_code=415,
            )
        try:
            data = current_app.json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValidationFailed("请求体不是合法的 JSON", code="invalid_json") from exc
        if _JSON_NUL in raw or _RAW_NUL in raw:  # two substring tests; the walk is rare
            refuse_nul(data)
    if schema is not None:
        validate(schema, data)
    return data


def read_query(schema: dict) -> dict[str, Any]:
    """Query-string arguments coerced to the schema's scalar types, then validated."""
    props = schema.get("properties", {})
    data: dict[str, Any] = {}
    for key in request.args:
        values = request.args.getlist(key)
        value: Any = values[-1]
        kind = props.get(key, {}).get("type")
        if kind == "array":
            value = values
        elif kind == "integer":
            value = coerce_integer(value)
        elif kind == "number":
            # Left as a string when it is not a number: the schema then reports invalid_type.
            with contextlib.suppress(ValueError):
                value = float(value)
        elif kind == "boolean" and value in ("true", "false", "1", "0"):
            value = value in ("true", "1")
        data[key] = value
    return validate(schema, data)
