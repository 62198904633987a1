"""Public views of the material-exemption list: search, CSV, one item, batches, sharing rate."""

from __future__ import annotations

from flask import Response, stream_with_context

from backend.models.service_items import CATEGORIES
from backend.service_item_presenters import present_batch, present_department, present_public_item
from backend.services import exemption_list, service_item_workflow
from miniprogram_api import bp
from miniprogram_api.registry import ANYONE, endpoint, obj, page_query

TAGS = ["exemption list"]
FILTERS = {
    "q": {"type": "string", "maxLength": 100, "description": "text in item or material names"},
    "department": {"type": "string", "maxLength": 32, "description": "department code"},
    "category": {"type": "string", "enum": list(CATEGORIES)},
    "batch": {"type": "integer", "minimum": 1, "description": "publication batch number"},
}
MATERIAL = obj(
    {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "exemption_basis": {"type": ["string", "null"]},
        "exempt": {"type": "boolean"},
        "exemption_label": {"type": "string"},
        "for_you": {
            "type": "object",
            "description": "only for a logged-in holder: status exempt|must_submit and why",
        },
    },
    additionalProperties=True,
)
ITEM = obj(
    {
        "id": {"type": "integer"},
        "category": {"type": "string"},
        "handling_item": {"type": "string"},
        "materials": {"type": "array", "items": MATERIAL},
    },
    additionalProperties=True,
)


@endpoint(
    bp,
    "/exemption-list",
    summary="The published material-exemption list: search, filter by department and category",
    tags=TAGS,
    auth=ANYONE,
    query=page_query(FILTERS),
    response=obj(
        {
            "items": {"type": "array", "items": ITEM},
            "total": {"type": "integer"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "pages": {"type": "integer"},
            "department": {"type": ["object", "null"]},
        }
    ),
    errors=[422],
)
def exemption_list_search(caller, query):
    page, department = exemption_list.search(query)
    return {
        "items": [present_public_item(v) for v in page.rows],
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
        "pages": page.pages,
        "department": present_department(department) if department else None,
    }


@endpoint(
    bp,
    "/exemption-list.csv",
    summary="The published list as CSV (UTF-8 with BOM), one row per material",
    tags=TAGS,
    auth=ANYONE,
    query=obj(FILTERS),
    content_type="text/csv",
    response={"type": "string"},
    errors=[422],
)
def exemption_list_csv(caller, query):
    chunks = exemption_list.csv_chunks(query)  # bad filters raise here: 422, not a cut stream
    return Response(
        stream_with_context(chunks),
        mimetype="text/csv",
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="exemption-list.csv"; '
            "filename*=UTF-8''%E4%BA%8B%E9%A1%B9%E6%9D%90%E6%96%99%E5%87%8F%E5%85%8D%E6%B8%85%E5%8D%95.csv",
        },
    )


@endpoint(
    bp,
    "/service-items/<int:item_id>",
    summary="A published item with its materials; for a logged-in holder, which are exempt "
    "for them and why",
    tags=TAGS,
    auth=ANYONE,
    response=ITEM,
    errors=[404],
)
def service_item(caller, item_id):
    version, verdicts, summary = exemption_list.published_item_for(caller, item_id)
    data = present_public_item(version, verdicts)
    data["applicant"] = summary
    return data


@endpoint(
    bp,
    "/publication-batches",
    summary="Published batches of the exemption list, newest first",
    tags=TAGS,
    auth=ANYONE,
    response=obj({"batches": {"type": "array", "items": {"type": "object"}}}),
)
def publication_batches(caller):
    return {
        "batches": [
            present_batch(batch, count) for batch, count in service_item_workflow.list_batches()
        ]
    }


@endpoint(
    bp,
    "/supervision/sharing-rate",
    summary="Sharing rate of published materials, city-wide and per department, vs the 30% target",
    tags=["supervision"],
    auth=ANYONE,
    response=obj(
        {
            "target_percent": {"type": "integer"},
            "city": {"type": "object"},
            "departments": {"type": "array", "items": {"type": "object"}},
        }
    ),
)
def sharing_rate(caller):
    return exemption_list.sharing_rate()
