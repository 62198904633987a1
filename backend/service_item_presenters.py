"""How service items, materials, batches and history are shown to callers (JSON)."""

from __future__ import annotations

from typing import Any

from backend.clock import to_local
from backend.models import Department
from backend.models.service_items import (
    EXEMPTION_LABELS,
    STATE_LABELS,
    ItemState,
    Material,
    PublicationBatch,
    ServiceItem,
    ServiceItemEvent,
    ServiceItemVersion,
)

ACTION_LABELS = {
    "created": "新建",
    "imported": "批量导入",
    "updated": "修改",
    "submitted": "提交审核",
    "approved": "审核通过",
    "returned": "退回",
    "published": "发布",
    "revision_started": "发起修订",
}


def present_department(department: Department) -> dict[str, Any]:
    return {"id": department.id, "code": department.code, "name": department.name}


def present_batch(batch: PublicationBatch | None, item_count: int | None = None) -> dict | None:
    if batch is None:
        return None
    data: dict[str, Any] = {
        "id": batch.id,
        "number": batch.number,
        "title": batch.title,
        "published_on": batch.published_on.isoformat(),
    }
    if item_count is not None:
        data["item_count"] = item_count
    return data


def present_material(material: Material, for_you: dict | None = None) -> dict[str, Any]:
    certificate_type = material.certificate_type
    data: dict[str, Any] = {
        "id": material.id,
        "position": material.position,
        "name": material.name,
        "issuing_department": material.issuing_department_name,
        "certificate_type": (
            {"code": certificate_type.code, "name": certificate_type.name}
            if certificate_type
            else None
        ),
        "certificate_fields": list(material.certificate_fields or []),
        "exemption_basis": material.exemption_basis,
        "exempt": material.exemption_basis is not None,
        "exemption_label": EXEMPTION_LABELS[material.exemption_basis],
        "required": material.required,
        "notes": material.notes,
    }
    if for_you is not None:
        data["for_you"] = for_you
    return data


def _content(item: ServiceItem, version: ServiceItemVersion) -> dict[str, Any]:
    return {
        "id": item.id,
        "code": item.code,
        "department": present_department(item.department),
        "category": version.category,
        "main_item": version.main_item,
        "sub_item": version.sub_item,
        "handling_item": version.handling_item,
        "version": version.number,
        "material_count": len(version.materials),
        "exempt_material_count": sum(1 for m in version.materials if m.exemption_basis),
    }


def present_public_item(
    version: ServiceItemVersion, for_you: dict[int, dict] | None = None
) -> dict[str, Any]:
    """A published version; ``for_you`` maps material ids to the caller's exemption."""
    data = _content(version.item, version)
    data["batch"] = present_batch(version.batch)
    data["published_at"] = to_local(version.published_at)
    data["materials"] = [
        present_material(m, for_you.get(m.id) if for_you is not None else None)
        for m in version.materials
    ]
    return data


def present_staff_item(item: ServiceItem, version: ServiceItemVersion) -> dict[str, Any]:
    """The latest version with its workflow state, for officers and the supervisor."""
    data = _content(item, version)
    data.update(
        {
            "state": item.state,
            "state_label": STATE_LABELS[ItemState(item.state)],
            "return_reason": version.return_reason,
            "published_version": item.published_number,
            "updated_at": to_local(version.updated_at),
            "submitted_at": to_local(version.submitted_at),
            "approved_at": to_local(version.approved_at),
            "materials": [present_material(m) for m in version.materials],
        }
    )
    return data


def present_event(event: ServiceItemEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "version": event.version_number,
        "action": event.action,
        "action_label": ACTION_LABELS.get(event.action, event.action),
        "from_state": event.from_state,
        "to_state": event.to_state,
        "reason": event.reason,
        "batch": present_batch(event.batch),
        "actor": (
            {"id": event.actor.id, "display_name": event.actor.display_name}
            if event.actor
            else None
        ),
        "at": to_local(event.created_at),
        "snapshot": event.snapshot,
    }
