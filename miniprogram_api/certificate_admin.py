"""System administration of the certificate library: types, seal keys, reorganisation;
and the effective issuance rate for the supervisor."""

from __future__ import annotations

from datetime import date

from backend.errors import ValidationFailed
from backend.services import certificate_types, issuance_rate, seals
from backend.validation import DAY_RANGE_TEXT, parse_day
from miniprogram_api import bp
from miniprogram_api.certificates import TYPE_SCHEMA
from miniprogram_api.registry import endpoint, obj

ADMIN = ("system_administrator",)
SUPERVISOR = ("supervisor",)
KEY_SCHEMA = {"type": "object", "description": "a seal key as the trust list shows it"}
FIELD_SPEC = obj(
    {
        "name": {"type": "string", "minLength": 1, "maxLength": 50},
        "type": {
            "type": "string",
            "enum": ["text", "date", "enum", "number", "id_number", "credit_code"],
        },
        "required": {"type": "boolean"},
        "max_length": {"type": "integer"},
        "options": {"type": "array", "items": {"type": "string"}},
    },
    ["name", "type"],
)
CODE = {"type": "string", "minLength": 1, "maxLength": 32}


@endpoint(
    bp,
    "/certificate-types/<code>",
    "PATCH",
    summary="Edit a certificate type: name, validity, field schema, rank, joint seals, "
    "issuing department (takeover), issuance list",
    tags=["certificate administration"],
    auth=ADMIN,
    body=obj(
        {
            "name": {"type": "string", "minLength": 1, "maxLength": 100},
            "validity_years": {"type": "integer", "minimum": 0, "maximum": 100},
            "fields": {"type": "array", "items": FIELD_SPEC, "minItems": 1, "maxItems": 100},
            "rank": {"type": ["integer", "null"], "minimum": 1, "maximum": 1_000_000},
            "department": CODE,
            "joint_departments": {"type": "array", "items": CODE, "maxItems": 10},
            "electronic_since": {"type": ["string", "null"], "maxLength": 10},
            "region": {"type": "string", "minLength": 1, "maxLength": 50},
            "issuing_cycle_days": {"type": "integer", "minimum": 0, "maximum": 365},
        },
        minProperties=1,
    ),
    response=TYPE_SCHEMA,
    errors=[404, 409, 422],
)
def update_certificate_type(caller, body, code):
    return certificate_types.present_type(certificate_types.update_type(code, body))


@endpoint(
    bp,
    "/departments/<code>/seal-keys",
    "POST",
    summary="Rotate a department's seal: a new key signs, the old one still verifies",
    tags=["certificate administration"],
    auth=ADMIN,
    response=KEY_SCHEMA,
    status=201,
    errors=[404],
)
def rotate_seal_key(caller, code):
    return seals.present_key(seals.rotate_seal_key(certificate_types.department_by_code(code)))


@endpoint(
    bp,
    "/seal-keys/<key_id>/retire",
    "POST",
    summary="Retire a previous seal key: what it signed no longer verifies",
    tags=["certificate administration"],
    auth=ADMIN,
    response=KEY_SCHEMA,
    errors=[404, 409],
)
def retire_seal_key(caller, key_id):
    return seals.present_key(seals.retire_seal_key(key_id))


@endpoint(
    bp,
    "/seal-keys/<key_id>/revoke",
    "POST",
    summary="Revoke a compromised seal key: nothing it signed is trusted any more",
    tags=["certificate administration"],
    auth=ADMIN,
    body=obj({"reason": {"type": "string", "minLength": 1, "maxLength": 200}}, ["reason"]),
    response=KEY_SCHEMA,
    errors=[404],
)
def revoke_seal_key(caller, body, key_id):
    return seals.present_key(seals.revoke_seal_key(key_id, body["reason"]))


@endpoint(
    bp,
    "/departments/<code>/reorganise",
    "POST",
    summary="Merge a department into a successor, which takes over its certificate types",
    tags=["certificate administration"],
    auth=ADMIN,
    body=obj({"successor": CODE}, ["successor"]),
    errors=[404, 409, 422],
)
def reorganise_department(caller, body, code):
    department = certificate_types.reorganise_department(code, body["successor"])
    return {"code": department.code, "successor": body["successor"], "active": department.active}


def _day(query: dict, name: str) -> date | None:
    if name not in query:
        return None
    day = parse_day(query[name])
    if day is None:
        raise ValidationFailed(
            f"日期无效:{name},应为 {DAY_RANGE_TEXT} 之间存在的日期,格式 YYYY-MM-DD",
            code="invalid_date",
            field=name,
        )
    return day


@endpoint(
    bp,
    "/supervision/issuance-rate",
    summary="Effective issuance rate (有效制发率) per department and city-wide, target 80 %",
    tags=["supervision"],
    auth=SUPERVISOR,
    query=obj(
        {
            "since": {"type": "string", "maxLength": 10, "description": "YYYY-MM-DD"},
            "until": {"type": "string", "maxLength": 10, "description": "YYYY-MM-DD"},
        }
    ),
    response=obj(
        {
            "target": {"type": "number"},
            "city": {"type": "object"},
            "departments": {"type": "array"},
        }
    ),
)
def effective_issuance_rate(caller, query):
    return issuance_rate.effective_issuance_rate(_day(query, "since"), _day(query, "until"))
