"""Public pages: the published material-exemption list with search."""

from __future__ import annotations

from flask import render_template, request

from backend.errors import AppError
from backend.models.service_items import CATEGORIES
from backend.service_item_presenters import present_public_item
from backend.services import exemption_list
from backend.validation import coerce_integer, validate
from webapp import bp

PER_PAGE = 20
FILTERS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "q": {"type": "string", "maxLength": 100},
        "category": {"enum": list(CATEGORIES)},
        "page": {"type": "integer", "minimum": 1, "maximum": 10000},
    },
}


def _filters() -> dict:
    raw = {k: request.args.get(k, "").strip() for k in ("q", "category", "page")}
    filters: dict = {k: v for k, v in raw.items() if v}
    if "page" in filters:
        filters["page"] = coerce_integer(filters["page"])
    return validate(FILTERS, filters)


@bp.get("/exemption-list")
def exemption_list_page():
    """Search published items and materials; anyone may read it, no login needed."""
    error = None
    try:
        filters = _filters()
        page, _ = exemption_list.search(dict(filters, per_page=PER_PAGE))
    except AppError as exc:
        error, filters, page = exc.message, {}, None
    items = [present_public_item(v) for v in page.rows] if page else []
    return render_template(
        "public/exemption_list.html",
        items=items,
        total=page.total if page else 0,
        listing={"page": page.page if page else 1},
        has_next=bool(page) and page.page < page.pages,
        filters=filters,
        categories=CATEGORIES,
        error=error,
    ), (200 if error is None else 400)
