"""Certificate types, the trust list, holders' certificates, issuing, revoking, reissuing.

Holder endpoints answer 404 ``certificate_not_found`` for any certificate the caller does
not hold (personally or through a company they represent), so existence is not revealed.
Issuing endpoints answer 403 ``forbidden`` to officers of other departments.
"""

from __future__ import annotations

from backend import clock
from backend.services import certificate_issuing, certificate_types, certificate_views, seals
from miniprogram_api import bp
from miniprogram_api.registry import ANYONE, LOGGED_IN, endpoint, obj, page_query

OFFICER = ("department_officer",)
DATE = {"type": "string", "maxLength": 32, "description": "YYYY-MM-DD"}
NULLABLE_DATE = {"type": ["string", "null"], "description": "YYYY-MM-DD"}
FIELD_VALUES = {
    "type": "object",
    "description": "field name → value, as the type's schema says (every problem is reported)",
    "additionalProperties": {"type": ["string", "number", "null"]},
}
TYPE_SCHEMA = {"type": "object", "description": "a type with its field schema and issuance list"}
CERTIFICATE_SCHEMA = {
    "type": "object",
    "description": "a certificate; with fields, seals and `verified` on the detail endpoint",
}
HOLDER = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "id_number": {"type": "string", "maxLength": 18},
        "credit_code": {"type": "string", "maxLength": 18},
    },
    "required": ["name"],
    "additionalProperties": False,
    "description": "a person (name, id_number) or a company (name, credit_code)",
}


@endpoint(
    bp,
    "/certificate-types",
    summary="Certificate types with field schemas and the public issuance list (发证清单)",
    tags=["certificates"],
    auth=ANYONE,
    response=obj({"items": {"type": "array", "items": TYPE_SCHEMA}}),
)
def list_certificate_types(caller):
    return {"items": [certificate_types.present_type(t) for t in certificate_types.list_types()]}


@endpoint(
    bp,
    "/certificate-types/<code>",
    summary="One certificate type",
    tags=["certificates"],
    auth=ANYONE,
    response=TYPE_SCHEMA,
    errors=[404],
)
def get_certificate_type(caller, code):
    return certificate_types.present_type(certificate_types.get_type(code))


@endpoint(
    bp,
    "/trust-list",
    summary="Seal public keys with their state: all an offline verifier needs",
    tags=["certificates"],
    auth=ANYONE,
    response=obj({"canonical_form": {"type": "string"}, "keys": {"type": "array"}}),
)
def trust_list(caller):
    return {
        "generated_at": clock.to_local(clock.now()),
        "canonical_form": "JSON, keys sorted, UTF-8, no insignificant whitespace; "
        "each seal is a signature over those bytes",
        "valid_states": ["current", "previous"],
        "keys": seals.trust_list(),
    }


# The two certificate lists (a holder's own, a department's issued) take the same filters.
LIST_QUERY = page_query(
    {
        "status": {"type": "string", "enum": list(certificate_views.STATUSES)},
        "type": {"type": "string", "maxLength": 64},
    }
)
CERTIFICATE_PAGE = obj(
    {
        "items": {"type": "array", "items": CERTIFICATE_SCHEMA},
        "total": {"type": "integer"},
        "page": {"type": "integer"},
        "per_page": {"type": "integer"},
    }
)


def _list_arguments(query: dict) -> dict:
    return {
        "status": query.get("status"),
        "type_code": query.get("type"),
        "page": query.get("page", 1),
        "per_page": query.get("per_page", 20),
    }


@endpoint(
    bp,
    "/certificates",
    summary="My certificates and those of the companies I represent",
    tags=["certificates"],
    auth=LOGGED_IN,
    query=LIST_QUERY,
    response=CERTIFICATE_PAGE,
)
def list_my_certificates(caller, query):
    return certificate_views.list_for_holder(
        caller,
        **_list_arguments(query),
    )


@endpoint(
    bp,
    "/certificates/<int:certificate_id>",
    summary="One of my certificates: fields, issuer, status, seals and whether they verify",
    tags=["certificates"],
    auth=LOGGED_IN,
    response=CERTIFICATE_SCHEMA,
    errors=[404],
)
def get_my_certificate(caller, certificate_id):
    return certificate_views.present_for_holder(caller, certificate_id)


@endpoint(
    bp,
    "/department-certificates",
    summary="Certificates my department issued (officers; holders' ID numbers masked)",
    tags=["certificates"],
    auth=OFFICER,
    query=LIST_QUERY,
    response=CERTIFICATE_PAGE,
)
def list_department_certificates(caller, query):
    return certificate_views.list_for_department(
        caller,
        **_list_arguments(query),
    )


@endpoint(
    bp,
    "/certificates",
    "POST",
    summary="Issue a certificate (officer of the type's issuing department)",
    tags=["certificates"],
    auth=OFFICER,
    body=obj(
        {
            "type": {"type": "string", "minLength": 1, "maxLength": 64},
            "holder": HOLDER,
            "fields": FIELD_VALUES,
            "issued_on": DATE,
            "expires_on": NULLABLE_DATE,
            "paper_issued_at": {
                "type": ["string", "null"],
                "description": "when the paper certificate was issued (ISO date or date-time)",
            },
        },
        ["type", "holder", "fields"],
    ),
    response=CERTIFICATE_SCHEMA,
    status=201,
    errors=[404, 422],
)
def issue_certificate(caller, body):
    certificate = certificate_issuing.issue_certificate(
        officer=caller,
        cert_type=body["type"],
        holder=body["holder"],
        fields=body["fields"],
        issued_on=body.get("issued_on"),
        expires_on=body.get("expires_on"),
        paper_issued_at=body.get("paper_issued_at"),
    )
    return certificate_views.present_certificate(certificate, detail=True)


@endpoint(
    bp,
    "/certificates/<int:certificate_id>/revoke",
    "POST",
    summary="Revoke a certificate with a reason (officer of the issuing department)",
    tags=["certificates"],
    auth=OFFICER,
    body=obj({"reason": {"type": "string", "minLength": 1, "maxLength": 200}}, ["reason"]),
    response=CERTIFICATE_SCHEMA,
    errors=[404, 409, 422],
)
def revoke_certificate(caller, body, certificate_id):
    certificate = certificate_issuing.revoke_certificate(caller, certificate_id, body["reason"])
    return certificate_views.present_certificate(certificate)


@endpoint(
    bp,
    "/certificates/<int:certificate_id>/reissue",
    "POST",
    summary="Reissue: a new version (new serial, fresh seals) supersedes this one",
    tags=["certificates"],
    auth=OFFICER,
    body=obj({"fields": FIELD_VALUES, "issued_on": DATE, "expires_on": NULLABLE_DATE}),
    response=CERTIFICATE_SCHEMA,
    status=201,
    errors=[404, 409, 422],
)
def reissue_certificate(caller, body, certificate_id):
    certificate = certificate_issuing.reissue_certificate(
        caller,
        certificate_id,
        fields=body.get("fields"),
        issued_on=body.get("issued_on"),
        expires_on=body.get("expires_on"),
    )
    return certificate_views.present_certificate(certificate, detail=True)
