"""The fast validation path (fastjsonschema) never judges a body differently from jsonschema."""

from __future__ import annotations

import re
from typing import Any

import fastjsonschema
import pytest
from jsonschema import Draft202012Validator

from backend.errors import ValidationFailed
from backend.services.complaints import COMPLAINT_BODY
from backend.validation import _fast_check, coerce_integer, validate
from miniprogram_api.registry import REGISTRY
from tests.factories import create_user, create_verifier_member, error_of
from webapp.forms import PAGE_QUERY
from webapp.pages_public import FILTERS


def _body_of(path: str) -> dict:
    return next(e.body for e in REGISTRY.endpoints if e.path == path and e.method == "post")


SCANS = _body_of("/api/mp/v1/scans")
CODES = _body_of("/api/mp/v1/codes")
SCHEMAS = {
    f"{e.method} {e.path} {kind}": schema
    for e in REGISTRY.endpoints
    for kind, schema in (("body", e.body), ("query", e.query))
    if schema is not None
} | {"web page query": PAGE_QUERY, "web filters": FILTERS, "complaint body": COMPLAINT_BODY}


def jsonschema_accepts(schema: dict, data: Any) -> bool:
    """Today's judgement: jsonschema alone, with its format checker."""
    checker = Draft202012Validator.FORMAT_CHECKER
    return not any(Draft202012Validator(schema, format_checker=checker).iter_errors(data))


def fast_accepts(schema: dict, data: Any) -> bool | None:
    check = _fast_check(schema)
    if check is None:
        return None
    try:
        check(data)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def validate_accepts(schema: dict, data: Any) -> bool:
    try:
        assert validate(schema, data) is data
    except ValidationFailed:
        return False
    return True


QR = "http://127.0.0.1:8000/c/AbCdEfGhIjKlMnOp"
SCAN_BODIES = [
    {"qr_content": QR, "purpose": "入住登记"},
    {"qr_content": "x", "purpose": "x"},
    {"qr_content": "码" * 500, "purpose": "用" * 100},
    {"qr_content": QR + "\n", "purpose": " "},
    {"qr_content": "x" * 501, "purpose": "入住登记"},
    {"qr_content": QR, "purpose": "用" * 101},
    {"qr_content": "", "purpose": "入住登记"},
    {"qr_content": QR, "purpose": ""},
    {"qr_content": 5, "purpose": "入住登记"},
    {"qr_content": True, "purpose": "入住登记"},
    {"qr_content": None, "purpose": "入住登记"},
    {"qr_content": [QR], "purpose": "入住登记"},
    {"qr_content": [[QR]], "purpose": "入住登记"},
    {"qr_content": {"url": QR}, "purpose": "入住登记"},
    {"qr_content": QR, "purpose": 1.5},
    {"qr_content": QR},
    {"purpose": "入住登记"},
    {},
    {"qr_content": QR, "purpose": "入住登记", "extra": 1},
    {"qr_content": QR, "purpose": "入住登记", "qr": QR},
    [{"qr_content": QR, "purpose": "入住登记"}],
    [],
    QR,
    None,
    0,
    True,
]
CODE_BODIES = [
    {"certificate_ids": [1]},
    {"certificate_ids": [1, 2, 3], "purpose": "酒店入住", "ttl_s": 60},
    {"certificate_ids": list(range(1, 11)), "ttl_s": 15},
    {"certificate_ids": [2**62], "ttl_s": 300},
    {"certificate_ids": [1.0], "ttl_s": 60.0},
    {"certificate_ids": list(range(1, 12))},
    {"certificate_ids": []},
    {"certificate_ids": [0]},
    {"certificate_ids": [-1]},
    {"certificate_ids": [True]},
    {"certificate_ids": [False]},
    {"certificate_ids": [1, True]},
    {"certificate_ids": [1, 1]},
    {"certificate_ids": [1, 1.0]},
    {"certificate_ids": [1.5]},
    {"certificate_ids": ["1"]},
    {"certificate_ids": [None]},
    {"certificate_ids": [[1]]},
    {"certificate_ids": [[1], [2]]},
    {"certificate_ids": [{"id": 1}]},
    {"certificate_ids": 1},
    {"certificate_ids": "1,2"},
    {"certificate_ids": True},
    {"certificate_ids": [1], "ttl_s": 14},
    {"certificate_ids": [1], "ttl_s": 301},
    {"certificate_ids": [1], "ttl_s": True},
    {"certificate_ids": [1], "ttl_s": "60"},
    {"certificate_ids": [1], "ttl_s": 60.5},
    {"certificate_ids": [1], "ttl_s": None},
    {"certificate_ids": [1], "purpose": ""},
    {"certificate_ids": [1], "purpose": "x" * 101},
    {"certificate_ids": [1], "purpose": 7},
    {"certificate_ids": [1], "colour": "red"},
    {"purpose": "酒店入住"},
    {},
    [1, 2],
    None,
]


@pytest.mark.parametrize(
    ("schema", "body"),
    [(SCANS, b) for b in SCAN_BODIES] + [(CODES, b) for b in CODE_BODIES],
)
def test_the_fast_path_and_jsonschema_agree_on_the_hot_bodies(schema, body):
    expected = jsonschema_accepts(schema, body)
    assert fast_accepts(schema, body) is expected
    assert validate_accepts(schema, body) is expected


def test_the_hot_bodies_include_both_verdicts():
    verdicts = {jsonschema_accepts(SCANS, b) for b in SCAN_BODIES}
    verdicts |= {jsonschema_accepts(CODES, b) for b in CODE_BODIES}
    assert verdicts == {True, False}


PROBES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    1.0,
    1.5,
    -1,
    2**40,
    "",
    "a",
    "abc\n",
    "x" * 501,
    "2024-02-29",
    "2024-02-30",
    "pages/index",
    "theme.field",
    [],
    [1],
    [1, 1],
    [1, True],
    ["a"],
    [[1]],
    {},
    {"a": 1},
]
PATTERN_SAMPLES = ["abc", "pages/index", "theme.field", "https://example.org/x"]


def _sample(schema: Any) -> Any:
    """A plausible valid instance: every property, the smallest allowed values."""
    if not isinstance(schema, dict):
        return None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object":
        return {k: _sample(v) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [_sample(schema.get("items", {}))] * schema.get("minItems", 1)
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    if kind == "string":
        if schema.get("format") == "date":
            return "2024-01-01"
        pattern = schema.get("pattern")
        matching = [s for s in PATTERN_SAMPLES if pattern and re.search(pattern, s)]
        return matching[0] if matching else "a" * max(schema.get("minLength", 1), 1)
    return None


def _variants(schema: dict) -> list[Any]:
    """The sample, then with each property missing, replaced by each probe, and one extra."""
    base = _sample(schema)
    if not isinstance(base, dict):
        return [base, *PROBES]
    out: list[Any] = [base, {**base, "unknown_field": 1}, *PROBES]
    for name in base:
        out.append({k: v for k, v in base.items() if k != name})
        out.extend({**base, name: probe} for probe in PROBES)
    return out


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_validate_judges_every_real_schema_as_jsonschema_does(name):
    schema = SCHEMAS[name]
    for body in _variants(schema):
        expected = jsonschema_accepts(schema, body)
        assert validate_accepts(schema, body) is expected, body
        assert fast_accepts(schema, body) in (None, False, expected), body  # never laxer


def test_the_fast_path_covers_the_hot_endpoints_and_skips_formats():
    assert _fast_check(SCANS) is not None and _fast_check(CODES) is not None
    assert _fast_check(COMPLAINT_BODY) is None  # "format": "date"


def test_a_boolean_is_not_an_integer_on_either_path():
    with pytest.raises(ValidationFailed) as caught:
        validate(CODES, {"certificate_ids": [True]})
    assert caught.value.code == "invalid_type" and caught.value.field == "certificate_ids.0"
    assert fast_accepts(CODES, {"certificate_ids": [True]}) is False


def test_validation_never_fills_in_defaults():
    schema = {"type": "object", "properties": {"ttl_s": {"type": "integer", "default": 60}}}
    body: dict = {}
    assert validate(schema, body) == {} and body == {}
    assert _fast_check(schema) is not None


def test_dates_are_checked_by_jsonschema_alone():
    schema = {"type": "object", "properties": {"on": {"type": "string", "format": "date"}}}
    assert _fast_check(schema) is None
    assert validate_accepts(schema, {"on": "2024-02-29"})
    for bad in ("2023-02-29", "0001-01-01", "9999-12-31", " 2024-02-29", "２０２４-02-29"):
        with pytest.raises(ValidationFailed) as caught:
            validate(schema, {"on": bad})
        assert caught.value.code == "invalid_date" and caught.value.field == "on", bad
    assert validate_accepts(schema, {"on": "1900-01-01"})
    assert validate_accepts(schema, {"on": "2199-12-31"})


@pytest.mark.parametrize(
    "schema",
    [
        {"enum": [1, 2]},
        {"const": 1},
        {"not": {"minimum": 5}},
        {"oneOf": [{"type": "integer"}, {"minimum": 0}]},
        {"type": "string", "pattern": "^a(?!$)"},
        {"$ref": "#/$defs/n", "$defs": {"n": {"type": "integer"}}},
        {"type": "array", "prefixItems": [{"type": "integer"}]},
    ],
)
def test_keywords_fastjsonschema_may_read_more_laxly_are_left_to_jsonschema(schema):
    assert _fast_check(schema) is None


def test_a_boolean_is_not_in_an_enum_of_numbers():
    assert not validate_accepts({"enum": [1]}, True)
    assert validate_accepts({"enum": [1]}, 1)


def test_a_body_the_fast_path_refuses_is_still_accepted_when_jsonschema_accepts_it():
    schema = {"type": "string", "pattern": "^[a-z]+$"}  # re.search: "$" matches before "\n"
    assert fast_accepts(schema, "abc\n") is False
    assert validate_accepts(schema, "abc\n")


def test_a_schema_fastjsonschema_cannot_compile_is_judged_by_jsonschema():
    schema = {"type": "string", "pattern": "^[$a-z]+$"}  # fastjsonschema makes it [\\Za-z]
    assert _fast_check(schema) is None
    assert validate_accepts(schema, "$abc")
    assert not validate_accepts(schema, "ABC")


def test_a_bad_scan_body_gets_the_same_error_envelope(api):
    token = api.login(create_verifier_member())
    response = api.post("/scans", token=token, json={"qr_content": 5, "purpose": "", "shoe": 1})
    assert response.status_code == 400
    details = [
        {"field": "shoe", "code": "unknown_field", "message": "不允许的字段:shoe"},
        {"field": "purpose", "code": "missing_field", "message": "字段不能为空:purpose"},
        {
            "field": "qr_content",
            "code": "invalid_type",
            "message": "字段类型错误:qr_content 应为字符串",
        },
    ]
    assert error_of(response) == {**details[0], "details": details}


def test_a_boolean_certificate_id_gets_the_same_error_envelope(api):
    token = api.login(create_user())
    response = api.post("/codes", token=token, json={"certificate_ids": [True]})
    assert response.status_code == 400
    detail = {
        "field": "certificate_ids.0",
        "code": "invalid_type",
        "message": "字段类型错误:certificate_ids.0 应为整数",
    }
    assert error_of(response) == {**detail, "details": [detail]}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        ("0007", 7),
        ("-3", -3),
        ("²", "²"),  # str.isdigit() says yes, int() raises
        ("١٢", "١٢"),  # int() reads Arabic-Indic digits
        (" 1", " 1"),
        ("1_0", "1_0"),
        ("", ""),
        ("9" * 19, 10**18),
        ("9" * 5000, 10**18),  # past int()'s 4,300-digit limit
        ("-" + "9" * 30, -(10**18)),
    ],
)
def test_query_integers_are_ascii_digits_and_long_ones_are_past_every_bound(text, expected):
    assert coerce_integer(text) == expected
