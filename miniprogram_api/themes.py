"""Theme bundles: administrators configure them, the public browses them, holders consent,
apply once and follow every part; department officers process their part."""

from __future__ import annotations

from flask import request

from backend.models import Role
from backend.models.themes import PART_STATES
from backend.services import theme_applications, theme_consents, theme_parts, themes
from backend.theme_presenters import (
    present_admin_bundle,
    present_application,
    present_bundle,
    present_bundle_summary,
    present_consent,
    present_part,
)
from backend.validation import ROW_ID
from miniprogram_api import bp
from miniprogram_api.registry import ANYONE, endpoint, obj

TAGS = ["themes"]
ADMIN = (Role.THEME_ADMINISTRATOR,)
HOLDER = (Role.CITIZEN, Role.COMPANY_REPRESENTATIVE)
OFFICER = (Role.DEPARTMENT_OFFICER,)
ANY_OBJECT = {"type": "object", "additionalProperties": True}

FORM_FIELD = obj(
    {
        "label": {"type": "string", "minLength": 1, "maxLength": 50},
        "source": {
            "type": ["string", "null"],
            "maxLength": 120,
            "pattern": r"^[a-z0-9_]+\..+$",
            "description": "certificate field `type_code.field name`; null: the applicant fills it",
        },
        "required": {"type": "boolean"},
        "type": {
            "type": "string",
            "enum": list(themes.APPLICANT_FIELD_TYPES),
            "description": "for applicant-filled fields; mapped fields take the certificate's",
        },
    },
    ["label"],
)
BUNDLE_SCHEMA = obj(
    {
        "title": {"type": "string", "minLength": 1, "maxLength": 100},
        "summary": {"type": "string", "maxLength": 500},
        "icon": {"type": "string", "maxLength": 64, "pattern": r"^[a-z0-9_-]*$"},
        "service_item_ids": {
            "type": "array",
            "items": ROW_ID,
            "minItems": 1,
            "maxItems": 20,
            "description": "published service items, in order",
        },
        "form_fields": {"type": "array", "items": FORM_FIELD, "maxItems": 50},
    },
    ["title", "service_item_ids", "form_fields"],
)


# ---------------------------------------------------------------- administrators


@endpoint(
    bp,
    "/theme-bundles",
    summary="Every bundle in any state, with a preview of its latest version",
    tags=TAGS,
    auth=ADMIN,
    response=obj({"bundles": {"type": "array", "items": ANY_OBJECT}}),
)
def list_theme_bundles(caller):
    return {"bundles": [present_admin_bundle(b) for b in themes.list_bundles()]}


@endpoint(
    bp,
    "/theme-bundles",
    "POST",
    summary="Create a draft bundle (version 1)",
    tags=TAGS,
    auth=ADMIN,
    body=BUNDLE_SCHEMA,
    response=ANY_OBJECT,
    status=201,
    errors=[422],
)
def create_theme_bundle(caller, body):
    return present_admin_bundle(themes.create_bundle(caller, body))


@endpoint(
    bp,
    "/theme-bundles/<int:bundle_id>",
    summary="Preview a bundle's latest version as the public would see it, with its state",
    tags=TAGS,
    auth=ADMIN,
    response=ANY_OBJECT,
    errors=[404],
)
def preview_theme_bundle(caller, bundle_id):
    return present_admin_bundle(themes.get_bundle(bundle_id))


@endpoint(
    bp,
    "/theme-bundles/<int:bundle_id>",
    "PUT",
    summary="Edit a bundle: adds a version; the public keeps the published one until publish",
    tags=TAGS,
    auth=ADMIN,
    body=BUNDLE_SCHEMA,
    response=ANY_OBJECT,
    errors=[404, 422],
)
def update_theme_bundle(caller, bundle_id, body):
    return present_admin_bundle(themes.update_bundle(caller, bundle_id, body))


@endpoint(
    bp,
    "/theme-bundles/<int:bundle_id>/publish",
    "POST",
    summary="Publish the latest version",
    tags=TAGS,
    auth=ADMIN,
    response=ANY_OBJECT,
    errors=[404, 409, 422],
)
def publish_theme_bundle(caller, bundle_id):
    return present_admin_bundle(themes.publish_bundle(caller, bundle_id))


@endpoint(
    bp,
    "/theme-bundles/<int:bundle_id>/unpublish",
    "POST",
    summary="Take a bundle off the public list (applications made keep their version)",
    tags=TAGS,
    auth=ADMIN,
    response=ANY_OBJECT,
    errors=[404, 409],
)
def unpublish_theme_bundle(caller, bundle_id):
    return present_admin_bundle(themes.unpublish_bundle(caller, bundle_id))


# ---------------------------------------------------------------- public and holders


@endpoint(
    bp,
    "/themes",
    summary="Published theme bundles",
    tags=TAGS,
    auth=ANYONE,
    response=obj({"themes": {"type": "array", "items": ANY_OBJECT}}),
)
def list_themes(caller):
    return {"themes": [present_bundle_summary(b, v) for b, v in themes.published_bundles()]}


@endpoint(
    bp,
    "/themes/<int:bundle_id>",
    summary="A published bundle: items, form; for a holder the materials still needed "
    "across the bundle (deduplicated) and the exempt ones with why",
    tags=TAGS,
    auth=ANYONE,
    response=ANY_OBJECT,
    errors=[404],
)
def get_theme(caller, bundle_id):
    bundle, version = themes.published_bundle(bundle_id)
    return present_bundle(bundle, version, caller)


@endpoint(
    bp,
    "/themes/<int:bundle_id>/consent-preview",
    summary="Which of the holder's certificates and fields the form would use (no values)",
    tags=TAGS,
    auth=HOLDER,
    response=ANY_OBJECT,
    errors=[403, 404],
)
def theme_consent_preview(caller, bundle_id):
    preview = theme_consents.consent_preview(caller, bundle_id)
    return {
        "bundle_id": preview["bundle"].id,
        "bundle_version": preview["version"].number,
        "title": preview["version"].title,
        "certificates": preview["certificates"],
        "not_held": preview["not_held"],
    }


@endpoint(
    bp,
    "/themes/<int:bundle_id>/consents",
    "POST",
    summary="Agree that the previewed certificates and fields fill this bundle's form",
    tags=TAGS,
    auth=HOLDER,
    response=ANY_OBJECT,
    status=201,
    errors=[403, 404],
)
def give_theme_consent(caller, bundle_id):
    return present_consent(theme_consents.give_consent(caller, bundle_id))


@endpoint(
    bp,
    "/consents",
    summary="The holder's consents",
    tags=TAGS,
    auth=HOLDER,
    response=obj({"consents": {"type": "array", "items": ANY_OBJECT}}),
)
def list_theme_consents(caller):
    return {"consents": [present_consent(c) for c in theme_consents.list_consents(caller)]}


@endpoint(
    bp,
    "/consents/<int:consent_id>/withdraw",
    "POST",
    summary="Withdraw a consent no submitted application used",
    tags=TAGS,
    auth=HOLDER,
    response=ANY_OBJECT,
    errors=[404, 409],
)
def withdraw_theme_consent(caller, consent_id):
    return present_consent(theme_consents.withdraw_consent(caller, consent_id))


@endpoint(
    bp,
    "/themes/<int:bundle_id>/prefill",
    summary="The unified form pre-filled from the certificates an active consent covers",
    tags=TAGS,
    auth=HOLDER,
    query=obj({"consent_id": ROW_ID}, ["consent_id"]),
    response=ANY_OBJECT,
    errors=[403, 404, 409],
)
def theme_prefill(caller, bundle_id, query):
    result = theme_consents.prefill(caller, bundle_id, query["consent_id"])
    return {
        "bundle_id": result["bundle"].id,
        "bundle_version": result["version"].number,
        "consent_id": result["consent"].id,
        "fields": result["fields"],
    }


@endpoint(
    bp,
    "/themes/<int:bundle_id>/applications",
    "POST",
    summary="Apply once: consent, form values, idempotency key (header Idempotency-Key or "
    "body); 201 when created, 200 with the same application on a repeat",
    tags=TAGS,
    auth=HOLDER,
    body=obj(
        {
            "consent_id": {**ROW_ID, "type": ["integer", "null"]},
            "values": {
                "type": "object",
                "maxProperties": 50,
                "description": "form label -> value for the fields not pre-filled",
            },
            "idempotency_key": {"type": "string", "maxLength": 64},
        },
        ["values"],
    ),
    response=ANY_OBJECT,
    status=201,
    errors=[403, 404, 409, 422],
)
def apply_theme(caller, bundle_id, body):
    application, created = theme_applications.submit_application(
        caller,
        bundle_id,
        body["values"],
        body.get("consent_id"),
        body.get("idempotency_key"),
        request.headers.get("Idempotency-Key"),
    )
    return present_application(application), 201 if created else 200


@endpoint(
    bp,
    "/applications",
    summary="The holder's theme applications with every part's state",
    tags=TAGS,
    auth=HOLDER,
    response=obj({"applications": {"type": "array", "items": ANY_OBJECT}}),
)
def list_theme_applications(caller):
    return {
        "applications": [
            present_application(a) for a in theme_applications.list_applications(caller)
        ]
    }


@endpoint(
    bp,
    "/applications/<int:application_id>",
    summary="One application: parts, materials, timeline per part",
    tags=TAGS,
    auth=HOLDER,
    response=ANY_OBJECT,
    errors=[404],
)
def get_theme_application(caller, application_id):
    return present_application(theme_applications.own_application(caller, application_id))


@endpoint(
    bp,
    "/application-parts/<int:part_id>/resubmit",
    "POST",
    summary="The applicant answers a correction request",
    tags=TAGS,
    auth=HOLDER,
    body=obj({"note": {"type": "string", "maxLength": 1000}}),
    response=ANY_OBJECT,
    errors=[404, 409],
)
def resubmit_application_part(caller, part_id, body):
    return present_part(theme_parts.resubmit_part(caller, part_id, body.get("note")))


# ---------------------------------------------------------------- department officers


@endpoint(
    bp,
    "/application-parts",
    summary="Parts routed to the officer's department",
    tags=TAGS,
    auth=OFFICER,
    query=obj({"state": {"type": "string", "enum": list(PART_STATES)}}),
    response=obj({"parts": {"type": "array", "items": ANY_OBJECT}}),
    errors=[403],
)
def list_application_parts(caller, query):
    parts = theme_parts.department_parts(caller, query.get("state"))
    return {"parts": [present_part(p, with_application=True) for p in parts]}


@endpoint(
    bp,
    "/application-parts/<int:part_id>",
    summary="One part of the officer's department with the form and materials",
    tags=TAGS,
    auth=OFFICER,
    response=ANY_OBJECT,
    errors=[403, 404],
)
def get_application_part(caller, part_id):
    return present_part(theme_parts.officer_part(caller, part_id), with_application=True)


def _officer_action(action: str, path: str, summary: str, message_required: bool = False):
    body = obj(
        {"message": {"type": "string", "minLength": 1, "maxLength": 1000}},
        ["message"] if message_required else None,
    )

    def view(caller, part_id, body):
        part = theme_parts.officer_action(caller, part_id, action, body.get("message"))
        return present_part(part, with_application=True)

    view.__name__ = f"{action}_application_part"
    endpoint(
        bp,
        f"/application-parts/<int:part_id>/{path}",
        "POST",
        summary=summary,
        tags=TAGS,
        auth=OFFICER,
        body=body,
        response=ANY_OBJECT,
        errors=[400, 403, 404, 409],
    )(view)


_officer_action("accept", "accept", "Accept a part")
_officer_action(
    "request_correction",
    "request-correction",
    "Ask the applicant for a correction, with a message",
    message_required=True,
)
_officer_action("approve", "approve", "Approve an accepted part")
_officer_action("reject", "reject", "Reject a part, with an optional reason")
