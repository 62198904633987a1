"""How theme bundles, consents, applications and their parts are shown to callers."""

from __future__ import annotations

from typing import Any

from backend import clock
from backend.models import User
from backend.models.themes import (
    ThemeApplication,
    ThemeApplicationPart,
    ThemeBundle,
    ThemeBundleVersion,
    ThemeConsent,
)
from backend.services import theme_parts
from backend.services.theme_applications import unsealed_form
from backend.services.themes import STATE_LABELS, BundleItem, bundle_items, materials_summary


def present_items(items: list[BundleItem]) -> list[dict[str, Any]]:
    return [
        {
            "id": e.item.id,
            "code": e.item.code,
            "handling_item": e.version.handling_item,
            "department": {"id": e.item.department.id, "name": e.item.department.name},
        }
        for e in items
    ]


def present_version(version: ThemeBundleVersion) -> dict[str, Any]:
    return {
        "number": version.number,
        "title": version.title,
        "summary": version.summary,
        "icon": version.icon,
        "form_fields": version.form_fields,
    }


def present_bundle_summary(bundle: ThemeBundle, version: ThemeBundleVersion) -> dict[str, Any]:
    return {
        "id": bundle.id,
        "code": bundle.code,
        "title": version.title,
        "summary": version.summary,
        "icon": version.icon,
        "version": version.number,
        "item_count": len(version.service_item_ids),
    }


def present_bundle(
    bundle: ThemeBundle, version: ThemeBundleVersion, caller: User | None
) -> dict[str, Any]:
    """The bundle as the public sees it; for a holder, the materials still needed."""
    items = bundle_items(version)
    return {
        "id": bundle.id,
        "code": bundle.code,
        **present_version(version),
        "version": version.number,
        "items": present_items(items),
        "materials": materials_summary(caller, items),
    }


def present_admin_bundle(bundle: ThemeBundle) -> dict[str, Any]:
    """State, versions, and a preview of the latest version rendered as the public would."""
    latest = next(v for v in bundle.versions if v.number == bundle.latest_number)
    return {
        "id": bundle.id,
        "code": bundle.code,
        "state": bundle.state,
        "state_label": STATE_LABELS[bundle.state],
        "latest_version": bundle.latest_number,
        "published_version": bundle.published_number,
        "has_unpublished_changes": bundle.published_number != bundle.latest_number,
        "service_item_ids": latest.service_item_ids,
        "preview": present_bundle(bundle, latest, None),
        "updated_at": clock.to_local(bundle.updated_at),
    }


def present_consent(consent: ThemeConsent) -> dict[str, Any]:
    return {
        "id": consent.id,
        "bundle_id": consent.bundle_id,
        "bundle_version": consent.version.number,
        "title": consent.version.title,
        "certificate_ids": consent.certificate_ids,
        "fields": consent.fields,
        "state": consent.state,
        "created_at": clock.to_local(consent.created_at),
        "withdrawn_at": clock.to_local(consent.withdrawn_at),
        "used_at": clock.to_local(consent.used_at),
    }


def present_event(event) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "state": event.state,
        "by_applicant": event.actor_user_id is not None
        and event.actor_user_id == event.part.application.user_id,
        "note": event.note,
        "at": clock.to_local(event.created_at),
    }


def present_part(part: ThemeApplicationPart, *, with_application: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": part.id,
        "application_id": part.application_id,
        "position": part.position,
        "service_item": {
            "id": part.service_item_id,
            "handling_item": part.item_version.handling_item,
            "version": part.item_version.number,
        },
        "department": {"id": part.department.id, "name": part.department.name},
        "state": part.state,
        "state_label": theme_parts.STATE_LABELS[part.state],
        "correction_message": part.correction_message,
        "materials": part.materials,
        "timeline": [present_event(e) for e in part.events],
        "updated_at": clock.to_local(part.updated_at),
    }
    if with_application:
        application = part.application
        data["application"] = {
            "id": application.id,
            "title": application.version.title,
            "applicant": application.user.display_name,
            "form_values": application.form_values,
            "submitted_at": clock.to_local(application.created_at),
        }
    return data


def present_application(application: ThemeApplication) -> dict[str, Any]:
    parts = list(application.parts)
    missing: dict[str, dict[str, Any]] = {}
    for part in parts:
        for m in part.materials:
            if m["status"] == "missing":
                row = missing.setdefault(
                    m["certificate_type"] or m["name"],
                    {"name": m["name"], "reason": m["reason"], "part_ids": []},
                )
                row["part_ids"].append(part.id)
    return {
        "id": application.id,
        "bundle_id": application.bundle_id,
        "bundle_version": application.version.number,
        "title": application.version.title,
        "consent_id": application.consent_id,
        "form_values": unsealed_form(application),
        "prefilled_fields": application.prefilled,
        "status": theme_parts.application_status(parts),
        "parts": [present_part(p) for p in parts],
        "missing_materials": list(missing.values()),
        "submitted_at": clock.to_local(application.created_at),
    }
