"""Staff views of service items: department officers edit and submit, the supervisor reviews
and publishes in batches; catalogue import and export."""

from __future__ import annotations

from flask import Response, request

from backend.models import Role
from backend.models.service_items import CATEGORIES, ItemState
from backend.service_item_presenters import present_batch, present_event, present_staff_item
from backend.services import service_item_catalogue, service_item_workflow, service_items
from backend.validation import ROW_ID, parse_day
from miniprogram_api import bp
from miniprogram_api.registry import endpoint, obj, page_query

TAGS = ["service items"]
OFFICER = (Role.DEPARTMENT_OFFICER,)
SUPERVISOR = (Role.SUPERVISOR,)
STAFF = (Role.DEPARTMENT_OFFICER, Role.SUPERVISOR)

NAME = {"type": "string", "minLength": 1, "maxLength": 200}
MATERIAL_SCHEMA = obj(
    {
        "name": NAME,
        "issuing_department": {
            "type": ["string", "null"],
            "maxLength": 100,
            "description": "department name or code; free text for issuers outside the city",
        },
        "certificate_type": {
            "type": ["string", "null"],
            "maxLength": 64,
            "description": "certificate type code",
        },
        "certificate_fields": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": 50},
            "maxItems": 50,
        },
        "exemption_basis": {
            "type": ["string", "null"],
            "enum": ["certificate", "verification_request", "commitment", None],
            "description": "null: the material must be submitted",
        },
        "required": {"type": "boolean"},
        "notes": {"type": "string", "maxLength": 500},
    },
    ["name"],
)
ITEM_SCHEMA = obj(
    {
        "category": {"type": "string", "enum": list(CATEGORIES)},
        "main_item": NAME,
        "sub_item": NAME,
        "handling_item": NAME,
        "materials": {"type": "array", "items": MATERIAL_SCHEMA, "minItems": 1, "maxItems": 50},
    },
    ["category", "main_item", "sub_item", "handling_item", "materials"],
)
STAFF_ITEM = obj(
    {
        "id": {"type": "integer"},
        "state": {"type": "string", "enum": [s.value for s in ItemState]},
        "version": {"type": "integer"},
        "published_version": {"type": ["integer", "null"]},
        "materials": {"type": "array", "items": {"type": "object"}},
    },
    additionalProperties=True,
)


def _staff_item(item) -> dict:
    return present_staff_item(item, service_items.latest_version(item))


@endpoint(
    bp,
    "/service-items",
    summary="Items with their latest version: an officer's department, or any (supervisor)",
    tags=TAGS,
    auth=STAFF,
    query=page_query(
        {
            "state": {"type": "string", "enum": [s.value for s in ItemState]},
            "department": {"type": "string", "maxLength": 32, "description": "supervisor only"},
            "category": {"type": "string", "enum": list(CATEGORIES)},
            "q": {"type": "string", "maxLength": 100},
        }
    ),
    response=obj(
        {
            "items": {"type": "array", "items": STAFF_ITEM},
            "total": {"type": "integer"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "pages": {"type": "integer"},
        }
    ),
)
def list_service_items(caller, query):
    page = service_items.list_staff_items(caller, query)
    return {
        "items": [present_staff_item(v.item, v) for v in page.rows],
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
        "pages": page.pages,
    }


@endpoint(
    bp,
    "/service-items",
    "POST",
    summary="Create a draft item of the officer's department",
    tags=TAGS,
    auth=OFFICER,
    body=ITEM_SCHEMA,
    response=STAFF_ITEM,
    status=201,
    errors=[409, 422],
)
def create_service_item(caller, body):
    return _staff_item(service_items.create_item(caller, body))


@endpoint(
    bp,
    "/service-items/<int:item_id>",
    "PUT",
    summary="Replace the content of a draft or returned item",
    tags=TAGS,
    auth=OFFICER,
    body=ITEM_SCHEMA,
    response=STAFF_ITEM,
    errors=[404, 409, 422],
)
def update_service_item(caller, item_id, body):
    return _staff_item(service_items.update_item(caller, item_id, body))


@endpoint(
    bp,
    "/service-items/<int:item_id>/latest",
    summary="The latest version in any state (the working copy) with its workflow state",
    tags=TAGS,
    auth=STAFF,
    response=STAFF_ITEM,
    errors=[404],
)
def latest_service_item(caller, item_id):
    item, version = service_items.staff_item(caller, item_id)
    return present_staff_item(item, version)


@endpoint(
    bp,
    "/service-items/<int:item_id>/history",
    summary="Every change of the item: who, when, which state change, content snapshots",
    tags=TAGS,
    auth=STAFF,
    response=obj({"events": {"type": "array", "items": {"type": "object"}}}),
    errors=[404],
)
def service_item_history(caller, item_id):
    return {"events": [present_event(e) for e in service_items.item_history(caller, item_id)]}


@endpoint(
    bp,
    "/service-items/<int:item_id>/submit",
    "POST",
    summary="Submit a draft or returned item for review",
    tags=TAGS,
    auth=OFFICER,
    response=STAFF_ITEM,
    errors=[404, 409],
)
def submit_service_item(caller, item_id):
    return _staff_item(service_item_workflow.submit_item(caller, item_id))


@endpoint(
    bp,
    "/service-items/<int:item_id>/approve",
    "POST",
    summary="Approve a submitted item (it is published with the next batch)",
    tags=TAGS,
    auth=SUPERVISOR,
    body=obj({"comment": {"type": "string", "maxLength": 500}}),
    response=STAFF_ITEM,
    errors=[404, 409],
)
def approve_service_item(caller, item_id, body):
    return _staff_item(service_item_workflow.approve_item(caller, item_id, body.get("comment")))


@endpoint(
    bp,
    "/service-items/<int:item_id>/return",
    "POST",
    summary="Return a submitted or approved item to its department with a reason",
    tags=TAGS,
    auth=SUPERVISOR,
    body=obj({"reason": {"type": "string", "minLength": 1, "maxLength": 500}}, ["reason"]),
    response=STAFF_ITEM,
    errors=[404, 409, 422],
)
def return_service_item(caller, item_id, body):
    return _staff_item(service_item_workflow.return_item(caller, item_id, body["reason"]))


@endpoint(
    bp,
    "/service-items/<int:item_id>/revise",
    "POST",
    summary="Start a revision of a published item; the public keeps the published version",
    tags=TAGS,
    auth=OFFICER,
    response=STAFF_ITEM,
    errors=[404, 409],
)
def revise_service_item(caller, item_id):
    return _staff_item(service_items.revise_item(caller, item_id))


@endpoint(
    bp,
    "/publication-batches",
    "POST",
    summary="Publish approved items as the next numbered batch (all or none)",
    tags=TAGS,
    auth=SUPERVISOR,
    body=obj(
        {
            "title": {"type": "string", "minLength": 1, "maxLength": 200},
            "published_on": {"type": "string", "format": "date"},
            "item_ids": {
                "type": "array",
                "items": ROW_ID,
                "minItems": 1,
                "maxItems": 5000,
            },
        },
        ["title", "item_ids"],
    ),
    response=obj(
        {"batch": {"type": "object"}, "item_ids": {"type": "array", "items": {"type": "integer"}}}
    ),
    status=201,
    errors=[404, 409],
)
def create_publication_batch(caller, body):
    published_on = parse_day(body["published_on"]) if "published_on" in body else None
    batch, items = service_item_workflow.publish_batch(
        caller, body["title"], body["item_ids"], published_on
    )
    return {"batch": present_batch(batch, len(items)), "item_ids": [i.id for i in items]}


CATALOGUE_QUERY = obj(
    {"department": {"type": "string", "maxLength": 32, "description": "supervisor: which one"}}
)


@endpoint(
    bp,
    "/service-item-catalogue.json",
    summary="Export a department's catalogue (latest versions) as JSON, the import format",
    tags=TAGS,
    auth=STAFF,
    query=CATALOGUE_QUERY,
    response=obj(
        {
            "department": {"type": "string"},
            "exported_at": {"type": "string"},
            "items": {"type": "array", "items": ITEM_SCHEMA},
        }
    ),
    errors=[422],
)
def export_catalogue_json(caller, query):
    return service_item_catalogue.export_catalogue(caller, query.get("department"))


@endpoint(
    bp,
    "/service-item-catalogue.csv",
    summary="Export a department's catalogue as CSV (UTF-8 with BOM), the import format",
    tags=TAGS,
    auth=STAFF,
    query=CATALOGUE_QUERY,
    content_type="text/csv",
    response={"type": "string"},
    errors=[422],
)
def export_catalogue_csv(caller, query):
    export = service_item_catalogue.export_catalogue(caller, query.get("department"))
    return Response(
        service_item_catalogue.catalogue_csv(export),
        mimetype="text/csv",
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="catalogue-{export["department"]}.csv"',
        },
    )


@endpoint(
    bp,
    "/service-item-imports",
    "POST",
    summary="Import the officer's department catalogue (text/csv or application/json body); "
    "any bad row rejects the whole file with every problem listed",
    tags=TAGS,
    auth=OFFICER,
    request_content_type="text/csv",
    raw_body=True,
    response=obj(
        {
            "created": {"type": "integer"},
            "updated": {"type": "integer"},
            "revised": {"type": "integer"},
            "unchanged": {"type": "integer"},
            "item_ids": {"type": "array", "items": {"type": "integer"}},
        }
    ),
    errors=[409, 413, 415, 422],
)
def import_catalogue(caller):
    return service_item_catalogue.import_catalogue(caller, request.get_data(), request.mimetype)
