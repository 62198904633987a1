"""Verification requests (部门协查), their routing directory and supervision figures."""

from __future__ import annotations

from datetime import date

from backend.models import Role
from backend.services import verification as service
from backend.services import verification_access as access
from backend.services import verification_routes as routes
from backend.services.verification_figures import verification_figures
from backend.services.verification_present import present_request
from backend.validation import parse_day
from miniprogram_api import bp
from miniprogram_api.registry import LOGGED_IN, endpoint, obj, page_query

TAGS = ["verification-requests"]
OFFICER = (Role.DEPARTMENT_OFFICER.value,)
DIRECTORY_EDITORS = (Role.SUPERVISOR.value, Role.SYSTEM_ADMINISTRATOR.value)
DIRECTORY_READERS = (Role.DEPARTMENT_OFFICER.value, *DIRECTORY_EDITORS)

DATE = {"type": "string", "format": "date"}
NOTE = {"type": "string", "maxLength": 500}
INTERNAL_NOTE = {
    "type": "string",
    "maxLength": 1000,
    "description": "shown to officers and the supervisor only, never to the subject",
}
REQUEST_SCHEMA = {
    "type": "object",
    "description": "a verification request with its timeline (internal notes for staff only)",
    "required": ["id", "state", "subject", "timeline"],
}
LIST_SCHEMA = obj(
    {
        "items": {"type": "array", "items": REQUEST_SCHEMA},
        "total": {"type": "integer"},
        "page": {"type": "integer"},
        "per_page": {"type": "integer"},
    },
    ["items", "total", "page", "per_page"],
)
ROUTE_SCHEMA = {"type": "object", "description": "a routing directory entry"}

CREATE_BODY = obj(
    {
        "subject": obj(
            {
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "id_number": {"type": "string", "minLength": 1, "maxLength": 18},
                "credit_code": {"type": "string", "minLength": 1, "maxLength": 18},
            },
            ["name"],
            description="the citizen (id_number) or company (credit_code) to verify",
        ),
        "proof_type": {
            "type": "string",
            "minLength": 1,
            "maxLength": 100,
            "description": "a routing directory code or name",
        },
        "question": {"type": "string", "minLength": 1, "maxLength": 1000},
        "purpose": {"type": "string", "minLength": 1, "maxLength": 200},
        "legal_basis": {"type": "string", "minLength": 1, "maxLength": 200},
        "related_application_id": {
            "type": ["string", "integer"],
            "maxLength": 64,
            "description": "free reference to the application this is for",
        },
        "deadline": {**DATE, "description": "answer by the end of this day (Asia/Shanghai)"},
    },
    ["subject", "proof_type", "question", "purpose", "legal_basis"],
)
STEP_BODY = obj({"note": NOTE, "internal_note": INTERNAL_NOTE})
ANSWER_BODY = obj(
    {
        "result": {"type": "string", "enum": ["confirmed", "not_confirmed"]},
        "answer": {"type": "string", "minLength": 1, "maxLength": 2000},
        "valid_until": {**DATE, "description": "the answer stands as a proof until this day"},
        "certificate": obj(
            {
                "fields": {
                    "type": "object",
                    "maxProperties": 50,
                    "additionalProperties": {"type": ["string", "number"]},
                },
                "expires_on": DATE,
            },
            description="issue the proof type's certificate in the same step",
        ),
        "note": NOTE,
        "internal_note": INTERNAL_NOTE,
    },
    ["result", "answer"],
)
REJECT_BODY = obj(
    {
        "reason": {"type": "string", "minLength": 1, "maxLength": 500},
        "internal_note": INTERNAL_NOTE,
    },
    ["reason"],
)
WITHDRAW_BODY = obj({"reason": NOTE, "internal_note": INTERNAL_NOTE})
LIST_QUERY = page_query(
    {
        "state": {"type": "string", "enum": list(service.STATE_LABELS)},
        "side": {"type": "string", "enum": ["requesting", "responding"]},
        "overdue": {"type": "boolean"},
    }
)


def _date(value: str | None) -> date | None:
    return parse_day(value) if value else None


def _present(request, caller) -> dict:
    return present_request(request, caller, access.audience(caller, request) or "subject")


@endpoint(
    bp,
    "/verification-requests",
    "POST",
    summary="Ask the issuing department to confirm a fact (部门协查)",
    tags=TAGS,
    auth=OFFICER,
    body=CREATE_BODY,
    response=REQUEST_SCHEMA,
    status=201,
    errors=[422],
)
def create_request(caller, body):
    subject = body["subject"]
    request = service.create_verification_request(
        requesting_department_id=caller.department_id,
        requested_by_id=caller.id,
        proof_type=body["proof_type"],
        subject_name=subject["name"],
        subject_id_number=subject.get("id_number"),
        subject_credit_code=subject.get("credit_code"),
        question=body["question"],
        purpose=body["purpose"],
        legal_basis=body["legal_basis"],
        related_application_id=body.get("related_application_id"),
        deadline=_date(body.get("deadline")),
    )
    return _present(request, caller)


@endpoint(
    bp,
    "/verification-requests",
    summary="Requests I may see: my department's, about me and my companies, or all (supervisor)",
    tags=TAGS,
    auth=LOGGED_IN,
    query=LIST_QUERY,
    response=LIST_SCHEMA,
)
def list_requests(caller, query):
    page = access.list_requests(
        caller,
        state=query.get("state"),
        side=query.get("side"),
        overdue=query.get("overdue"),
        page=query.get("page", 1),
        per_page=query.get("per_page", 20),
    )
    return {
        "items": [_present(r, caller) for r in page.items],
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
    }


@endpoint(
    bp,
    "/verification-requests/<int:request_id>",
    summary="One request with its timeline",
    tags=TAGS,
    auth=LOGGED_IN,
    response=REQUEST_SCHEMA,
    errors=[403, 404],
)
def get_request(caller, request_id):
    request, seen_as = access.view_request(caller, request_id)
    return present_request(request, caller, seen_as)


@endpoint(
    bp,
    "/verification-requests/<int:request_id>/accept",
    "POST",
    summary="Accept a request (responding department)",
    tags=TAGS,
    auth=OFFICER,
    body=STEP_BODY,
    response=REQUEST_SCHEMA,
    errors=[404, 409],
)
def accept_request(caller, body, request_id):
    request = service.accept_request(
        request_id, caller, note=body.get("note"), internal_note=body.get("internal_note")
    )
    return _present(request, caller)


@endpoint(
    bp,
    "/verification-requests/<int:request_id>/answer",
    "POST",
    summary="Answer confirmed / not confirmed, sealed; optionally issue the certificate",
    tags=TAGS,
    auth=OFFICER,
    body=ANSWER_BODY,
    response=REQUEST_SCHEMA,
    errors=[404, 409, 422],
)
def answer_request(caller, body, request_id):
    certificate = body.get("certificate")
    if certificate is not None:
        certificate = {
            "fields": certificate.get("fields", {}),
            "expires_on": _date(certificate.get("expires_on")),
        }
    request = service.answer_request(
        request_id,
        caller,
        result=body["result"],
        answer=body["answer"],
        valid_until=_date(body.get("valid_until")),
        certificate=certificate,
        note=body.get("note"),
        internal_note=body.get("internal_note"),
    )
    return _present(request, caller)


@endpoint(
    bp,
    "/verification-requests/<int:request_id>/reject",
    "POST",
    summary="Reject a request with a reason (responding department)",
    tags=TAGS,
    auth=OFFICER,
    body=REJECT_BODY,
    response=REQUEST_SCHEMA,
    errors=[404, 409],
)
def reject_request(caller, body, request_id):
    request = service.reject_request(
        request_id, caller, body["reason"], internal_note=body.get("internal_note")
    )
    return _present(request, caller)


@endpoint(
    bp,
    "/verification-requests/<int:request_id>/withdraw",
    "POST",
    summary="Withdraw a request before it is answered (requesting department)",
    tags=TAGS,
    auth=OFFICER,
    body=WITHDRAW_BODY,
    response=REQUEST_SCHEMA,
    errors=[404, 409],
)
def withdraw_request(caller, body, request_id):
    request = service.withdraw_request(
        request_id, caller, body.get("reason"), internal_note=body.get("internal_note")
    )
    return _present(request, caller)


# --- routing directory -----------------------------------------------------------------------

ROUTE_FIELDS = {
    "name": {"type": "string", "minLength": 1, "maxLength": 100},
    "department": {"type": "string", "minLength": 1, "maxLength": 32, "description": "code"},
    "deadline_working_days": {"type": "integer", "minimum": 1, "maximum": 60},
    "answer_validity_days": {"type": "integer", "minimum": 1, "maximum": 3650},
}


@endpoint(
    bp,
    "/verification-routes",
    summary="The routing directory: proof type -> responding department, deadline",
    tags=TAGS,
    auth=DIRECTORY_READERS,
    query=obj({"include_inactive": {"type": "boolean"}}),
    response={"type": "array", "items": ROUTE_SCHEMA},
)
def list_routes(caller, query):
    return [routes.present_route(r) for r in routes.list_routes(query.get("include_inactive"))]


@endpoint(
    bp,
    "/verification-routes",
    "POST",
    summary="Add a routing directory entry",
    tags=TAGS,
    auth=DIRECTORY_EDITORS,
    body=obj(
        {
            "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]{1,63}$"},
            "certificate_type": {"type": "string", "minLength": 1, "maxLength": 64},
            "subject_kind": {"type": "string", "enum": list(routes.SUBJECT_KINDS)},
            **ROUTE_FIELDS,
        },
        ["code", "name"],
    ),
    response=ROUTE_SCHEMA,
    status=201,
    errors=[409, 422],
)
def create_route(caller, body):
    route = routes.create_route(
        code=body["code"],
        name=body["name"],
        subject_kind=body.get("subject_kind"),
        department_code=body.get("department"),
        certificate_type_code=body.get("certificate_type"),
        deadline_working_days=body.get(
            "deadline_working_days", routes.DEFAULT_DEADLINE_WORKING_DAYS
        ),
        answer_validity_days=body.get("answer_validity_days", routes.DEFAULT_ANSWER_VALIDITY_DAYS),
    )
    return routes.present_route(route)


@endpoint(
    bp,
    "/verification-routes/<int:route_id>",
    "PATCH",
    summary="Edit a routing directory entry (deactivate with active=false)",
    tags=TAGS,
    auth=DIRECTORY_EDITORS,
    body=obj({**ROUTE_FIELDS, "active": {"type": "boolean"}}, minProperties=1),
    response=ROUTE_SCHEMA,
    errors=[404, 409, 422],
)
def update_route(caller, body, route_id):
    return routes.present_route(routes.update_route(route_id, body))


@endpoint(
    bp,
    "/supervision/verification-figures",
    summary="Answer time median and p90, overdue count, per responding department",
    tags=["supervision"],
    auth=(Role.SUPERVISOR.value,),
    query=obj({"from": DATE, "to": DATE}),
    response={"type": "object", "required": ["departments", "total"]},
)
def figures(caller, query):
    return verification_figures(_date(query.get("from")), _date(query.get("to")))
