"""My certificates as cards, and one certificate's detail with its seal status."""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user

from backend.services import certificate_views
from webapp import bp
from webapp.forms import PER_PAGE, page_number
from webapp.guards import HOLDERS, page_for

STATUS_LABELS = {"valid": "有效", "expired": "已过期", "revoked": "已注销", "superseded": "已更新"}
KIND_LABELS = {"licence": "证照", "proof": "证明"}


@bp.get("/certificates")
@page_for(*HOLDERS)
def certificates():
    page = page_number()
    listing = certificate_views.list_for_holder(current_user, page=page, per_page=PER_PAGE)
    return render_template(
        "certificates/list.html",
        listing=listing,
        labels=STATUS_LABELS,
        kinds=KIND_LABELS,
        has_next=page * PER_PAGE < listing["total"],
        shown=request.args.get("shown"),
    )


@bp.get("/certificates/<int:certificate_id>")
@page_for(*HOLDERS)
def certificate_detail(certificate_id: int):
    certificate = certificate_views.present_for_holder(current_user, certificate_id)
    return render_template(
        "certificates/detail.html", c=certificate, labels=STATUS_LABELS, kinds=KIND_LABELS
    )
