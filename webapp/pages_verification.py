"""My verification requests (部门协查) and each one's timeline, for the citizen concerned."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from backend.services import verification_access as access
from backend.services.verification_present import present_request
from webapp import bp
from webapp.forms import PER_PAGE, page_number
from webapp.guards import HOLDERS, page_for


@bp.get("/verification-requests")
@page_for(*HOLDERS)
def verification_requests():
    page = page_number()
    found = access.list_requests(current_user, page=page, per_page=PER_PAGE)
    items = [present_request(r, current_user, "subject") for r in found.items]
    return render_template(
        "verification/list.html",
        items=items,
        listing={"page": page},
        has_next=page * PER_PAGE < found.total,
    )


@bp.get("/verification-requests/<int:request_id>")
@page_for(*HOLDERS)
def verification_request(request_id: int):
    request, seen_as = access.view_request(current_user, request_id)
    return render_template(
        "verification/detail.html", r=present_request(request, current_user, seen_as)
    )
