"""Show and scan certificate codes, usage records, offline codes, usage figures."""

from __future__ import annotations

from flask import Response, request

from backend.models import Role
from backend.services import codes, offline_codes, scans, usage_records
from backend.validation import ROW_ID, parse_day
from miniprogram_api import bp
from miniprogram_api.registry import ANYONE, endpoint, obj, page_query

HOLDERS = (Role.CITIZEN, Role.COMPANY_REPRESENTATIVE)
VERIFIERS = (Role.VERIFIER_MEMBER,)
SUPERVISORS = (Role.SUPERVISOR,)
PURPOSE = {"type": "string", "minLength": 1, "maxLength": 100}
STRING = {"type": "string"}
NULLABLE_STRING = {"type": ["string", "null"]}

CODE_RESPONSE = obj(
    {
        "token": STRING,
        "qr_content": {"type": "string", "description": "URL to put in the QR code"},
        "expires_at": STRING,
        "ttl_s": {"type": "integer"},
        "refresh_after_s": {"type": "integer"},
    },
    ["token", "qr_content", "expires_at", "ttl_s", "refresh_after_s"],
)
CODE_STATUS = {
    "type": "object",
    "properties": {
        "status": {"enum": ["waiting", "scanned", "expired", "replaced"]},
        "expires_at": STRING,
        "scanned_at": STRING,
        "scanned_by": obj({"organisation": STRING}),
    },
    "required": ["status"],
}
SCANNED_CERTIFICATE = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "type": obj({"code": STRING, "name": STRING}),
        "serial": STRING,
        "issuer": obj({"code": STRING, "name": STRING}),
        "issued_on": STRING,
        "expires_on": NULLABLE_STRING,
        "status": {"enum": ["valid", "expired", "revoked", "superseded"]},
        "seal": obj({"valid": {"type": "boolean"}, "reason": STRING}),
        "result": {"enum": ["ok", "revoked", "expired", "superseded", "seal_invalid"]},
        "fields": {"type": "object", "description": "only the fields in scope; only when ok"},
    },
}
SCAN_RESPONSE = obj(
    {
        "scan_id": STRING,
        "scanned_at": STRING,
        "purpose": STRING,
        "organisation": STRING,
        "valid": {"type": "boolean", "description": "every returned certificate is ok"},
        "certificates": {"type": "array", "items": SCANNED_CERTIFICATE},
        "withheld": {"type": "integer", "description": "certificates outside the scope"},
    }
)
USAGE_RECORD = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "scan_id": STRING,
        "scanned_at": STRING,
        "organisation": obj({"id": {"type": "integer"}, "name": STRING}),
        "certificate": {"type": "object"},
        "fields_disclosed": {"type": "array", "items": STRING},
        "purpose": STRING,
        "result": STRING,
        "reported": {"type": ["object", "null"]},
        "member": {"type": "object", "description": "verifier and supervisor only"},
        "holder_name": {"type": "string", "description": "masked; verifier and supervisor"},
    },
}
OFFLINE_RESULT = obj(
    {
        "valid": {"type": "boolean"},
        "type": STRING,
        "issuer": STRING,
        "key_id": STRING,
        "certificate_digest": STRING,
        "fields": {"type": "object"},
        "issued_at": STRING,
        "expires_at": STRING,
    }
)


@endpoint(
    bp,
    "/codes",
    "POST",
    summary="Show a dynamic code for some of my certificates (the previous one for the same "
    "set stops working)",
    tags=["codes"],
    auth=HOLDERS,
    body=obj(
        {
            "certificate_ids": {
                "type": "array",
                "items": ROW_ID,
                "minItems": 1,
                "maxItems": codes.MAX_CERTIFICATES_PER_CODE,
                "uniqueItems": True,
            },
            "purpose": PURPOSE,
            "ttl_s": {"type": "integer", "minimum": 15, "maximum": 300},
        },
        ["certificate_ids"],
    ),
    response=CODE_RESPONSE,
    status=201,
    errors=[404, 422, 429, 503],
    caller_snapshot=True,
)
def show_code(caller, body):
    return codes.show_code(caller, body["certificate_ids"], body.get("purpose"), body.get("ttl_s"))


@endpoint(
    bp,
    "/codes/<token>",
    summary="My code's state: waiting, scanned (by whom), expired or replaced",
    tags=["codes"],
    auth=HOLDERS,
    response=CODE_STATUS,
    errors=[404, 503],
)
def code_status(caller, token):
    return codes.code_status(caller, token)


def _qr_response(data: bytes, mimetype: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Cache-Control"] = "no-store"
    return response


@endpoint(
    bp,
    "/codes/<token>/qr.png",
    summary="My live code as a PNG QR image (error correction Q)",
    tags=["codes"],
    auth=HOLDERS,
    content_type="image/png",
    response={"type": "string", "format": "binary"},
    errors=[404, 503],
)
def code_qr_png(caller, token):
    return _qr_response(codes.qr_image(caller, token, "png"), "image/png")


@endpoint(
    bp,
    "/codes/<token>/qr.svg",
    summary="My live code as an SVG QR image (error correction Q)",
    tags=["codes"],
    auth=HOLDERS,
    content_type="image/svg+xml",
    response={"type": "string"},
    errors=[404, 503],
)
def code_qr_svg(caller, token):
    return _qr_response(codes.qr_image(caller, token, "svg"), "image/svg+xml")


@endpoint(
    bp,
    "/scans",
    "POST",
    summary="Scan a holder's code: consume it, return the verified fields in my scope",
    tags=["codes"],
    auth=VERIFIERS,
    body=obj(
        {"qr_content": {"type": "string", "minLength": 1, "maxLength": 500}, "purpose": PURPOSE},
        ["qr_content", "purpose"],
    ),
    response=SCAN_RESPONSE,
    errors=[403, 404, 409, 410, 429, 503],
    caller_snapshot=True,
)
def scan(caller, body):
    return scans.scan_code(caller, body["qr_content"], body["purpose"])


@endpoint(
    bp,
    "/usage-records",
    summary="Holder: uses of my certificates. Verifier: my organisation's scans. "
    "Supervisor: all, e.g. the reported ones",
    tags=["codes"],
    auth=HOLDERS + VERIFIERS + SUPERVISORS,
    query=page_query({"reported": {"type": "boolean"}, "certificate_id": ROW_ID}),
    response=obj(
        {
            "items": {"type": "array", "items": USAGE_RECORD},
            "total": {"type": "integer"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
        }
    ),
)
def list_usage_records(caller, query):
    return usage_records.list_usage_records(
        caller,
        page=query.get("page", 1),
        per_page=query.get("per_page", 20),
        reported=query.get("reported"),
        certificate_id=query.get("certificate_id"),
    )


@endpoint(
    bp,
    "/usage-records/<int:record_id>/report",
    "POST",
    summary="Report a use of my certificate as suspicious (kept for the supervisor)",
    tags=["codes"],
    auth=HOLDERS,
    body=obj({"reason": {"type": "string", "minLength": 1, "maxLength": 500}}, ["reason"]),
    response=USAGE_RECORD,
    errors=[404, 409],
)
def report_usage_record(caller, body, record_id):
    return usage_records.report_usage_record(caller, record_id, body["reason"])


@endpoint(
    bp,
    "/offline-codes",
    "POST",
    summary="A signed offline code for one certificate with the fields I choose (≤ 5 min)",
    tags=["codes"],
    auth=HOLDERS,
    body=obj(
        {
            "certificate_id": ROW_ID,
            "fields": {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": 50},
                "maxItems": 20,
                "uniqueItems": True,
            },
            "ttl_s": {"type": "integer", "minimum": 30, "maximum": 300},
        },
        ["certificate_id", "fields"],
    ),
    response=obj(
        {
            "code": {"type": "string", "description": "text to put in one QR code"},
            "length": {"type": "integer"},
            "key_id": STRING,
            "issued_at": STRING,
            "expires_at": STRING,
            "ttl_s": {"type": "integer"},
        }
    ),
    status=201,
    errors=[404, 422, 429, 503],
)
def issue_offline_code(caller, body):
    return offline_codes.issue_offline_code(
        caller, body["certificate_id"], body["fields"], body.get("ttl_s")
    )


@endpoint(
    bp,
    "/offline-codes/verify",
    "POST",
    summary="Check an offline code against the trust list",
    tags=["codes"],
    auth=ANYONE,
    body=obj({"code": {"type": "string", "minLength": 1, "maxLength": 4000}}, ["code"]),
    response=OFFLINE_RESULT,
    errors=[410, 422, 429, 503],
)
def verify_offline_code(caller, body):
    return offline_codes.check_offline_code(body["code"], f"ip:{request.remote_addr}")


@endpoint(
    bp,
    "/supervision/usage",
    summary="Uses of the 50 most used certificate types and per issuing department",
    tags=["supervision"],
    auth=SUPERVISORS,
    query=obj(
        {
            "since": {"type": "string", "format": "date"},
            "until": {"type": "string", "format": "date"},
        }
    ),
    response={"type": "object"},
)
def supervision_usage(caller, query):
    since = parse_day(query["since"]) if "since" in query else None
    until = parse_day(query["until"]) if "until" in query else None
    return usage_records.usage_figures(since, until)
