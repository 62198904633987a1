"""The orjson provider writes what Flask's default provider wrote, and reads bodies strictly."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask.json.provider import DefaultJSONProvider
from markupsafe import Markup

from backend.json_provider import OrjsonProvider
from tests.factories import (
    create_certificate,
    create_user,
    create_verifier_member,
    create_verifier_organisation,
    error_of,
)

COMPACT = {"separators": (",", ":")}
INVALID_JSON = {"code": "invalid_json", "message": "请求体不是合法的 JSON"}


@dataclasses.dataclass
class Stamp:
    at: datetime
    by: str


def stdlib_provider(app) -> DefaultJSONProvider:
    """What the app used before: Flask's provider, UTF-8 unescaped."""
    provider = DefaultJSONProvider(app)
    provider.ensure_ascii = False
    return provider


@contextlib.contextmanager
def serving_with(app, provider):
    previous, app.json = app.json, provider
    try:
        yield
    finally:
        app.json = previous


REPRESENTATIVE = {
    "organisation": "西湖宾馆",
    "purpose": '入住登记 "前台" \\ / \n\t\u2028 😀',
    "valid": True,
    "withheld": 0,
    "expires_on": None,
    "z": {"b": [1, -2, 2**63 - 1, -(2**63)], "a": {"姓名": "张三", "Ä": "ä", "A": "a"}},
    "certificates": [{"id": 1, "fields": {"公民身份号码": "330102199001011234"}}, (1, "二")],
    "issued_on": date(2024, 2, 29),
    "scanned_at": datetime(2024, 5, 1, 8, 30, 15, 123456, tzinfo=UTC),
    "naive": datetime(2024, 5, 1, 8, 30),
    "scan_id": uuid.UUID("9f0c2a8e-1c1b-4b1e-9a55-1f2d3c4b5a69"),
    "amount": Decimal("12.50"),
    "stamp": Stamp(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "前台"),
    "html": Markup("<b>粗</b>"),
}


def test_the_app_uses_the_orjson_provider(app):
    assert isinstance(app.json, OrjsonProvider)
    assert app.json.ensure_ascii is False and app.json.sort_keys is True


def test_a_representative_response_is_byte_for_byte_what_flask_wrote(app):
    new = app.json.dumps(REPRESENTATIVE, **COMPACT)
    assert new == stdlib_provider(app).dumps(REPRESENTATIVE, **COMPACT)
    assert "西湖宾馆" in new and "\\u" not in new  # UTF-8, not escapes
    assert '"issued_on":"Thu, 29 Feb 2024 00:00:00 GMT"' in new  # Flask's HTTP date
    assert list(json.loads(new)) == sorted(REPRESENTATIVE)


def test_floats_keep_their_values(app):
    floats = [0.1, 1.5, 1e16, 1e-7, -0.0, 123456.789, 2.0**70]
    assert json.loads(app.json.dumps(floats, **COMPACT)) == floats


@pytest.mark.parametrize(
    "value",
    [
        {1: "a", 10: "b", 2: "c"},  # sorted as numbers, as json.dumps does
        {"n": 2**64},
        {"n": -(2**63) - 1},
        {"nested": {3: [True, None]}},
    ],
)
def test_what_orjson_refuses_is_written_by_the_stdlib_as_before(app, value):
    assert app.json.dumps(value, **COMPACT) == stdlib_provider(app).dumps(value, **COMPACT)


@pytest.mark.parametrize("value", [{1: "a", "b": 2}, {"s": {1, 2}}, {"o": object()}])
def test_what_flask_could_not_write_still_raises_type_error(app, value):
    with pytest.raises(TypeError):
        stdlib_provider(app).dumps(value, **COMPACT)
    with pytest.raises(TypeError):
        app.json.dumps(value, **COMPACT)


def test_other_layouts_and_ascii_escapes_are_left_to_the_stdlib(app):
    new, old = OrjsonProvider(app), stdlib_provider(app)
    new.ensure_ascii = False
    for kwargs in ({}, {"indent": 2}, {"sort_keys": True}):
        assert new.dumps(REPRESENTATIVE, **kwargs) == old.dumps(REPRESENTATIVE, **kwargs)
    new.ensure_ascii = old.ensure_ascii = True
    assert new.dumps(REPRESENTATIVE, **COMPACT) == old.dumps(REPRESENTATIVE, **COMPACT)
    new.compact = old.compact = False  # what debug mode does
    assert new.response(REPRESENTATIVE).data == old.response(REPRESENTATIVE).data


def test_jsonify_keeps_the_mimetype_and_the_trailing_newline(app):
    response = app.json.response(REPRESENTATIVE)
    assert response.mimetype == "application/json"
    assert response.data == stdlib_provider(app).response(REPRESENTATIVE).data
    assert response.data.endswith(b"}\n")


def test_the_provider_reads_what_it_writes(app):
    text = app.json.dumps(REPRESENTATIVE, **COMPACT)
    assert app.json.loads(text) == app.json.loads(text.encode()) == json.loads(text)


@pytest.fixture
def scanning(seeded, api):
    citizen = create_user(display_name="张三")
    id_card = create_certificate("id_card", holder=citizen.person)
    hotel = create_verifier_organisation(name="西湖宾馆", scope={"id_card": ["姓名"]})
    return {
        "id_card": id_card,
        "citizen": api.login(citizen),
        "member": api.login(create_verifier_member(hotel, display_name="前台小王")),
    }


def _written_by_flask(app, response) -> bytes:
    return stdlib_provider(app).dumps(json.loads(response.data), **COMPACT).encode() + b"\n"


def test_real_responses_are_the_bytes_flask_wrote(app, client, api, scanning):
    code = api.post("/codes", token=scanning["citizen"], json={"certificate_ids": [999999]})
    assert code.status_code == 404 and code.data == _written_by_flask(app, code)

    ids = {"certificate_ids": [scanning["id_card"].id], "purpose": "酒店入住"}
    code = api.post("/codes", token=scanning["citizen"], json=ids)
    assert code.status_code == 201 and code.data == _written_by_flask(app, code)
    body = {"qr_content": code.get_json()["qr_content"], "purpose": "入住登记"}
    scan = api.post("/scans", token=scanning["member"], json=body)
    assert scan.status_code == 200 and scan.data == _written_by_flask(app, scan)
    assert list(scan.get_json()["certificates"][0]["fields"]) == ["姓名"]

    reads = [
        lambda: client.get("/healthz"),
        lambda: client.get("/api/openapi.json"),
        lambda: api.get("/usage-records", token=scanning["citizen"]),
        lambda: api.get("/no-such-thing"),
    ]
    for read in reads:
        new = read()
        with serving_with(app, stdlib_provider(app)):
            old = read()
        assert (new.status_code, new.mimetype, new.data) == (
            old.status_code,
            old.mimetype,
            old.data,
        )


# orjson reads 1,024 levels; the stdlib, re-reading for the long integer, hits its recursion limit.
DEEP_LONG_INTEGER = b'{"certificate_ids": [1], "x": ' + b"[" * 1020 + b"1" * 20 + b"]" * 1020 + b"}"


def post_raw(api, token, data, content_type="application/json"):
    return api.post("/codes", token=token, data=data, headers={"Content-Type": content_type})


@pytest.mark.parametrize(
    "data",
    [
        b'{"certificate_ids": [1]',
        b'{"certificate_ids": [1],}',
        b"{'certificate_ids': [1]}",
        b'{"certificate_ids": [NaN]}',
        b'{"certificate_ids": [Infinity]}',
        b'{"certificate_ids": [-Infinity]}',
        b'{"certificate_ids": [1e400]}',
        b'{"certificate_ids": [9223372036854775808]}',
        b'{"certificate_ids": [18446744073709551616]}',
        b'{"certificate_ids": [100000000000000000000000000000]}',
        b'{"certificate_ids": [1], "ttl_s": -9223372036854775809}',
        b'{"certificate_ids": [1], "purpose": "\\ud800"}',
        b'{"certificate_ids": [1], "purpose": "\xff\xfe"}',
        b'{"certificate_ids": [1], "purpose": "\xed\xa0\x80"}',
        b'{"certificate_ids": [1], "x": ' + b"[" * 2000 + b"]" * 2000 + b"}",
        DEEP_LONG_INTEGER,
    ],
)
def test_bodies_the_app_cannot_read_are_400_invalid_json(api, scanning, data):
    response = post_raw(api, scanning["citizen"], data)
    assert response.status_code == 400
    assert error_of(response) == INVALID_JSON


def test_integers_within_64_bits_are_read_exactly(app):
    text = b"[9223372036854775807, -9223372036854775808, 18014398509481985]"
    assert app.json.loads(text) == [2**63 - 1, -(2**63), 2**54 + 1]


def test_a_long_run_of_digits_in_a_string_is_read(api, scanning):
    body = {"certificate_ids": [scanning["id_card"].id], "purpose": "12345678901234567890123"}
    response = post_raw(api, scanning["citizen"], json.dumps(body))
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32", "utf-8-sig"])
def test_bodies_in_the_encodings_json_loads_read_are_still_read(api, scanning, encoding):
    body = json.dumps({"certificate_ids": [scanning["id_card"].id], "purpose": "酒店入住"})
    response = post_raw(api, scanning["citizen"], body.encode(encoding))
    assert response.status_code == 201, response.get_json()
