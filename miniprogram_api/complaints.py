"""Reporting an office that still demanded a proof; the supervisor's list of reports."""

from __future__ import annotations

from backend.models import Role
from backend.services import complaints
from miniprogram_api import bp
from miniprogram_api.registry import endpoint, obj, page_query

REPORTERS = (Role.CITIZEN, Role.COMPANY_REPRESENTATIVE)
COMPLAINT = {"type": "object", "description": "a report; the reporter is shown to the supervisor"}


@endpoint(
    bp,
    "/complaints",
    "POST",
    summary="Report an office that still demanded a proof (stored for the supervisor)",
    tags=["complaints"],
    auth=REPORTERS,
    body=complaints.COMPLAINT_BODY,
    response=COMPLAINT,
    status=201,
    errors=[400, 401, 403, 422, 429],
)
def submit_complaint(caller, body):
    return complaints.present_complaint(complaints.submit_complaint(caller, body))


@endpoint(
    bp,
    "/complaints",
    summary="Reports of demanded proofs, newest first (supervisor)",
    tags=["complaints"],
    auth=(Role.SUPERVISOR,),
    query=page_query({"status": {"enum": ["submitted", "handled"]}}),
    response=obj(
        {
            "items": {"type": "array", "items": COMPLAINT},
            "total": {"type": "integer"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
        },
        ["items", "total", "page", "per_page"],
    ),
    errors=[400, 401, 403],
)
def list_complaints(caller, query):
    page, per_page = query.get("page", 1), query.get("per_page", 20)
    items, total = complaints.list_complaints(page, per_page, query.get("status"))
    return {
        "items": [complaints.present_complaint(c, with_reporter=True) for c in items],
        "total": total,
        "page": page,
        "per_page": per_page,
    }
