"""Seed a city's catalogue: the service items of themes.json plus a few hundred generated ones.

Deterministic (fixed random seeds) and idempotent (items are keyed by ``code``). Most items
are published in three batches; the rest sit at every workflow state, so the review console,
the public list and the sharing-rate figures all look like a real city's.
"""

from __future__ import annotations

import json
import random
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from backend import clock
from backend.extensions import db
from backend.models import Department
from backend.models.service_items import (
    ExemptionBasis,
    PublicationBatch,
    ServiceItem,
    ServiceItemEvent,
    ServiceItemVersion,
)
from backend.services.service_item_content import Lookups, apply_content, checked_content
from backend.services.service_items import start_revision

SEED_DIR = Path(__file__).resolve().parent.parent / "seed_data"
BATCHES = [
    (1, "第一批“无证明城市”事项材料减免清单", date(2024, 3, 15)),
    (2, "第二批“无证明城市”事项材料减免清单", date(2024, 7, 1)),
    (3, "第三批“无证明城市”事项材料减免清单", date(2024, 11, 20)),
]
RETURN_REASONS = [
    "材料名称不规范,请按省级事项库统一名称修改",
    "关联的电子证照类型有误,请核对后重新提交",
    "免提交方式与实际办理不符,请补充说明依据",
]
# Kinds of handling action, recognised by words in the action's name (first match wins).
_ACTION_KINDS = [
    ("replace", ("补",)),
    ("cancel", ("注销", "歇业", "停业", "终止", "销户", "暂停")),
    ("renew", ("延续", "延期", "换", "复审", "校验", "签注", "复核", "重新申请")),
    ("change", ("变更",)),
]
IDENTITY = {"person": "@id_card", "company": "@business_licence"}


def _kind(action: str) -> str:
    for kind, words in _ACTION_KINDS:
        if any(w in action for w in words):
            return kind
    return "full"


def _material(spec: list | str, shared: dict[str, list]) -> dict[str, Any]:
    if isinstance(spec, str):
        spec = shared[spec.removeprefix("@")]
    name, issuer, certificate_type, basis, *rest = spec
    return {
        "name": name,
        "issuing_department": issuer,
        "certificate_type": certificate_type,
        "certificate_fields": [],
        "exemption_basis": basis,
        "required": rest[0] if rest else True,
        "notes": "",
    }


def _materials_for(template: dict, action: str, shared: dict, type_names: dict) -> list[dict]:
    kind = _kind(action)
    form = "备案表" if template["category"] == "行政备案" else "申请表"
    specs: list[Any] = [[template["sub_item"] + form, None, None, None]]
    specs.append(IDENTITY[template["applicant"]])
    own = template.get("own")
    if kind != "full":
        if own:
            specs.append([type_names[own][0] + "(原证)", type_names[own][1], own, "certificate"])
        else:
            specs.append([f"原{template['main_item']}证件", None, None, None])
    if kind == "full":
        specs.extend(template["materials"])
    elif kind == "change":
        specs.append(["变更事项相关证明材料", None, None, None])
    elif kind == "renew":
        specs.append(["持续符合许可条件的书面承诺", None, None, "commitment"])
    elif kind == "replace":
        specs.append(["遗失或损毁情况声明", None, None, "commitment"])
    materials, seen = [], set()
    for spec in specs:
        material = _material(spec, shared)
        if material["name"] not in seen:
            seen.add(material["name"])
            materials.append(material)
    return materials


def _lag(materials: list[dict], rng: random.Random, lag: float) -> None:
    """Some departments have not yet made every linked material exempt."""
    for material in materials:
        sharing = (ExemptionBasis.CERTIFICATE, ExemptionBasis.VERIFICATION_REQUEST)
        if material["exemption_basis"] in sharing and rng.random() < lag:
            material["exemption_basis"] = None
            material["notes"] = "电子证照数据归集中,暂需提交"


def generated_items(type_names: dict[str, tuple[str, str]]) -> list[tuple[str, str, dict]]:
    """(code, department code, content) for every generated item, in a fixed order."""
    data = json.loads((SEED_DIR / "service_item_templates.json").read_text(encoding="utf-8"))
    out = []
    for department_code, templates in data["departments"].items():
        rng = random.Random(f"lag:{department_code}")
        lag = rng.choice([0.0, 0.0, 0.1, 0.2, 0.35, 0.5])
        n = 0
        for template in templates:
            for action in template["actions"]:
                n += 1
                materials = _materials_for(template, action, data["shared"], type_names)
                _lag(materials, rng, lag)
                content = {
                    "category": template["category"],
                    "main_item": template["main_item"],
                    "sub_item": template["sub_item"],
                    "handling_item": f"{template['sub_item']}({action})",
                    "materials": materials,
                }
                out.append((f"{department_code}_{n:03d}", department_code, content))
    return out


def theme_items() -> list[tuple[str, str, dict]]:
    """(code, department name, content) for the service items of themes.json."""
    out = []
    themes = json.loads((SEED_DIR / "themes.json").read_text(encoding="utf-8"))
    for raw in themes["service_items"]:
        content = {
            "category": raw["category"],
            "main_item": raw["main_item"],
            "sub_item": raw["sub_item"],
            "handling_item": raw["handling_item"],
            "materials": [
                {
                    "name": m["name"],
                    "issuing_department": m["issuer"],
                    "certificate_type": m["certificate"],
                    "certificate_fields": [],
                    "exemption_basis": m["exempt_by"],
                    "required": True,
                    "notes": "",
                }
                for m in raw["materials"]
            ],
        }
        out.append((raw["id"], raw["department"], content))
    return out


def _batch(number: int, title: str, published_on: date) -> PublicationBatch:
    batch = db.session.scalar(select(PublicationBatch).where(PublicationBatch.number == number))
    if batch is None:
        batch = PublicationBatch(number=number, title=title, published_on=published_on)
        db.session.add(batch)
        db.session.flush()
    return batch


# The workflow steps that lead to each state, as history events (action, from, to).
_WALKS = {
    "draft": [],
    "submitted": [("submitted", "draft", "submitted")],
    "returned": [("submitted", "draft", "submitted"), ("returned", "submitted", "returned")],
    "approved": [("submitted", "draft", "submitted"), ("approved", "submitted", "approved")],
    "published": [
        ("submitted", "draft", "submitted"),
        ("approved", "submitted", "approved"),
        ("published", "approved", "published"),
    ],
}


def _build(
    department: Department,
    content: dict,
    lookups: Lookups,
    code: str,
    target: str,
    batch: PublicationBatch | None,
    n: int,
) -> ServiceItem:
    """An item already at ``target`` with the history that leads there, as the system.

    Built in memory and flushed once for the whole catalogue: walking hundreds of items
    through the workflow one flush at a time made every ``seed-demo`` several seconds slower.
    """
    now = clock.now()
    published = target == "published"
    item = ServiceItem(
        code=code,
        department=department,
        handling_item=content["handling_item"],
        state=target,
        latest_number=1,
        published_number=1 if published else None,
        created_at=now,
        updated_at=now,
    )
    reason = RETURN_REASONS[n % len(RETURN_REASONS)] if target == "returned" else None
    version = ServiceItemVersion(
        item=item,
        department_id=department.id,
        number=1,
        state=target,
        is_public=published,
        batch=batch if published else None,
        return_reason=reason,
        submitted_at=now if target != "draft" else None,
        approved_at=now if target in ("approved", "published") else None,
        published_at=now if published else None,
    )
    apply_content(version, department, content, lookups)
    db.session.add(item)
    steps = [("created", None, "draft"), *_WALKS[target]]
    for action, from_state, to_state in steps:
        db.session.add(
            ServiceItemEvent(
                item=item,
                version_number=1,
                action=action,
                from_state=from_state,
                to_state=to_state,
                reason=reason if action == "returned" else None,
                batch=batch if action == "published" else None,
                snapshot=content if action == "created" else None,
                created_at=now,
            )
        )
    return item


def _target(rng: random.Random) -> tuple[str, int | None]:
    r = rng.random()
    for limit, target, batch in (
        (0.45, "published", 1),
        (0.70, "published", 2),
        (0.85, "published", 3),
        (0.89, "approved", None),
        (0.93, "submitted", None),
        (0.96, "returned", None),
    ):
        if r < limit:
            return target, batch
    return "draft", None


def seed_service_items() -> None:
    """The seed step: theme items in batch 1, generated items across every state."""
    lookups = Lookups.load()
    existing = set(
        db.session.scalars(select(ServiceItem.code).where(ServiceItem.code.is_not(None)))
    )
    departments = {d.code: d for d in db.session.scalars(select(Department))}
    by_name = {d.name: d for d in departments.values()}
    batches = {n: _batch(n, title, day) for n, title, day in BATCHES}
    type_names = {
        code: (t.name, t.department.name) for code, t in lookups.certificate_types.items()
    }
    rng = random.Random(20240315)
    taken = set(db.session.execute(select(ServiceItem.department_id, ServiceItem.handling_item)))
    revise = []
    planned = [
        (code, by_name[name], content, "published", 1) for code, name, content in theme_items()
    ]
    for code, department_code, content in generated_items(type_names):
        target, batch_number = _target(rng)  # drawn for every item: the plan never shifts
        planned.append((code, departments[department_code], content, target, batch_number))
    for n, (code, department, content, target, batch_number) in enumerate(planned):
        if code in existing or (department.id, content["handling_item"]) in taken:
            continue
        checked = checked_content(content, lookups)
        item = _build(department, checked, lookups, code, target, batches.get(batch_number), n)
        if batch_number == 1 and n % 40 == 15:
            revise.append(item)
    db.session.flush()
    for item in revise:  # a few published items with a revision under way
        start_revision(item, None)
    db.session.flush()
