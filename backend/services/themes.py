"""Theme bundles: what administrators configure and publish, and what the public browses.

Every edit adds an immutable version, so an application made against version N keeps
seeing exactly N. The public only ever sees the published version of a published bundle.
Exemption verdicts come from ``applicant_exemptions``; this module only merges them across
the bundle's items (one business licence serves three items).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select

from backend import clock
from backend.errors import Conflict, Forbidden, NotFound, UnprocessableEntity
from backend.extensions import db
from backend.models import CertificateType, User
from backend.models.service_items import EXEMPTION_LABELS, ServiceItem, ServiceItemVersion
from backend.models.themes import ThemeApplication, ThemeBundle, ThemeBundleVersion
from backend.services.applicant_exemptions import EXEMPT, MUST_SUBMIT, exemptions_for
from backend.services.service_items import public_version
from backend.services.tx import transactional
from notifications import audiences

APPLICANT_FIELD_TYPES = ("text", "date", "number")
STATE_LABELS = {"draft": "草稿", "published": "已发布", "unpublished": "已下架"}


# ---------------------------------------------------------------- definitions


def _problem(field: str, code: str, message: str) -> dict[str, str]:
    return {"field": field, "code": code, "message": message}


def _field_type(schema_type: str) -> str:
    """The form type of a certificate field: dates, numbers and ID numbers keep theirs (an ID
    number is checked, stored encrypted and shown masked), the rest is text."""
    return schema_type if schema_type in ("date", "number", "id_number") else "text"


def check_definition(data: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a bundle definition, or 422 listing every problem at once."""
    problems: list[dict[str, str]] = []
    item_ids: list[int] = list(data["service_item_ids"])
    items = {
        i.id: i for i in db.session.scalars(select(ServiceItem).where(ServiceItem.id.in_(item_ids)))
    }
    seen: set[int] = set()
    for n, item_id in enumerate(item_ids):
        field = f"service_item_ids.{n}"
        item = items.get(item_id)
        if item_id in seen:
            problems.append(_problem(field, "duplicate_item", f"事项重复:{item_id}"))
        elif item is None or public_version(item) is None:
            problems.append(
                _problem(field, "item_not_published", f"事项不存在或尚未发布:{item_id}")
            )
        seen.add(item_id)
    types = {t.code: t for t in db.session.scalars(select(CertificateType))}
    fields: list[dict[str, Any]] = []
    labels: set[str] = set()
    for n, raw in enumerate(data["form_fields"]):
        label = raw["label"].strip()
        if not label:
            problems.append(_problem(f"form_fields.{n}.label", "missing_field", "字段名称不能为空"))
        elif label in labels:
            problems.append(
                _problem(f"form_fields.{n}.label", "duplicate_label", f"字段名称重复:{label}")
            )
        labels.add(label)
        source = raw.get("source")
        field_type = raw.get("type") or "text"
        if source:
            type_code, _, field_name = source.partition(".")
            cert_type = types.get(type_code)
            schema = next(
                (f for f in (cert_type.fields if cert_type else []) if f["name"] == field_name),
                None,
            )
            if schema is None:
                problems.append(
                    _problem(
                        f"form_fields.{n}.source",
                        "unknown_certificate_field",
                        f"证照类型字段不存在:{source}",
                    )
                )
            else:
                field_type = _field_type(schema["type"])
        fields.append(
            {
                "label": label,
                "source": source or None,
                "required": raw.get("required", True),
                "type": field_type,
            }
        )
    if problems:
        raise UnprocessableEntity(
            problems[0]["message"],
            code="invalid_theme",
            field=problems[0]["field"],
            details=problems,
        )
    return {
        "title": data["title"].strip(),
        "summary": data.get("summary", "").strip(),
        "icon": data.get("icon", ""),
        "service_item_ids": item_ids,
        "form_fields": fields,
    }


def add_version(bundle: ThemeBundle, definition: dict[str, Any], actor: User | None) -> None:
    number = (bundle.latest_number or 0) + 1 if bundle.versions else 1
    bundle.versions.append(
        ThemeBundleVersion(number=number, created_by_id=actor.id if actor else None, **definition)
    )
    bundle.latest_number = number
    bundle.updated_at = clock.now()


@transactional
def create_bundle(admin: User, data: dict[str, Any], code: str | None = None) -> ThemeBundle:
    definition = check_definition(data)
    bundle = ThemeBundle(code=code, state="draft", created_by_id=admin.id)
    db.session.add(bundle)
    add_version(bundle, definition, admin)
    db.session.flush()
    return bundle


def get_bundle(bundle_id: int, *, lock: bool = False) -> ThemeBundle:
    query = select(ThemeBundle).where(ThemeBundle.id == bundle_id)
    bundle = db.session.scalar(query.with_for_update() if lock else query)
    if bundle is None:
        raise NotFound("主题服务不存在", code="theme_not_found")
    return bundle


def version_of(bundle: ThemeBundle, number: int | None) -> ThemeBundleVersion | None:
    return next((v for v in bundle.versions if v.number == number), None)


def latest(bundle: ThemeBundle) -> ThemeBundleVersion:
    return version_of(bundle, bundle.latest_number)


@transactional
def update_bundle(admin: User, bundle_id: int, data: dict[str, Any]) -> ThemeBundle:
    """A new version; the public keeps the published one until the bundle is published again."""
    bundle = get_bundle(bundle_id, lock=True)
    add_version(bundle, check_definition(data), admin)
    db.session.flush()
    return bundle


@transactional
def publish_bundle(admin: User, bundle_id: int) -> ThemeBundle:
    """Publish the latest version; every item in it must still be published."""
    bundle = get_bundle(bundle_id, lock=True)
    version = latest(bundle)
    if bundle.state == "published" and bundle.published_number == version.number:
        raise Conflict("该版本已发布", code="invalid_state", current_state=bundle.state)
    check_definition(
        {
            "title": version.title,
            "service_item_ids": version.service_item_ids,
            "form_fields": version.form_fields,
        }
    )
    bundle.state = "published"
    bundle.published_number = version.number
    bundle.published_at = clock.now()
    bundle.updated_at = clock.now()
    return bundle


@transactional
def unpublish_bundle(admin: User, bundle_id: int) -> ThemeBundle:
    bundle = get_bundle(bundle_id, lock=True)
    if bundle.state != "published":
        raise Conflict(
            f"主题服务当前状态为「{STATE_LABELS[bundle.state]}」,不能下架",
            code="invalid_state",
            current_state=bundle.state,
        )
    bundle.state = "unpublished"
    bundle.updated_at = clock.now()
    return bundle


def list_bundles() -> list[ThemeBundle]:
    """Every bundle in any state (administrators)."""
    return list(db.session.scalars(select(ThemeBundle).order_by(ThemeBundle.id)))


# ---------------------------------------------------------------- public


def published_bundles() -> list[tuple[ThemeBundle, ThemeBundleVersion]]:
    bundles = db.session.scalars(
        select(ThemeBundle).where(ThemeBundle.state == "published").order_by(ThemeBundle.id)
    )
    return [(b, version_of(b, b.published_number)) for b in bundles]


def published_bundle(bundle_id: int) -> tuple[ThemeBundle, ThemeBundleVersion]:
    """The published version of a published bundle, or 404 (drafts never leak)."""
    bundle = db.session.get(ThemeBundle, bundle_id)
    if bundle is None or bundle.state != "published":
        raise NotFound("主题服务不存在或未发布", code="theme_not_found")
    return bundle, version_of(bundle, bundle.published_number)


@dataclass
class BundleItem:
    item: ServiceItem
    version: ServiceItemVersion


def bundle_items(version: ThemeBundleVersion) -> list[BundleItem]:
    """The bundle's items in order, each with its currently published version."""
    items = {
        i.id: i
        for i in db.session.scalars(
            select(ServiceItem).where(ServiceItem.id.in_(version.service_item_ids))
        )
    }
    out = []
    for item_id in version.service_item_ids:
        item = items.get(item_id)
        item_version = public_version(item) if item else None
        if item_version is not None:  # an item withdrawn from the catalogue drops out
            out.append(BundleItem(item, item_version))
    return out


def material_key(material) -> str:
    """Materials that are the same document across items: same certificate type, or name."""
    if material.certificate_type is not None:
        return "type:" + material.certificate_type.code
    return "name:" + material.name


def bundle_materials(caller: User | None, items: list[BundleItem]) -> list[dict[str, Any]]:
    """The bundle's materials, deduplicated; for a holder, exempt or still needed and why.

    A document still needed for any item is needed (the applicant brings it once); it is
    exempt only when every item that lists it exempts it.
    """
    merged: dict[str, dict[str, Any]] = {}
    for entry in items:
        verdicts, _ = exemptions_for(caller, entry.version)
        for material in entry.version.materials:
            key = material_key(material)
            row = merged.setdefault(
                key,
                {
                    "name": material.name,
                    "certificate_type": (
                        material.certificate_type.code if material.certificate_type else None
                    ),
                    "items": [],
                    "status": None,
                    "reasons": [],
                },
            )
            row["items"].append({"id": entry.item.id, "handling_item": entry.version.handling_item})
            if verdicts is None:
                row.setdefault("exemption_labels", [])
                label = EXEMPTION_LABELS[material.exemption_basis]
                if label not in row["exemption_labels"]:
                    row["exemption_labels"].append(label)
                continue
            verdict = verdicts[material.id]
            if row["status"] != MUST_SUBMIT:
                row["status"] = verdict["status"]
            if verdict["reason"] not in row["reasons"]:
                row["reasons"].append(verdict["reason"])
    return list(merged.values())


def materials_summary(caller: User | None, items: list[BundleItem]) -> dict[str, Any]:
    rows = bundle_materials(caller, items)
    if caller is None or all(r["status"] is None for r in rows):
        return {"all": rows, "personalised": False}
    return {
        "personalised": True,
        "still_needed": [r for r in rows if r["status"] == MUST_SUBMIT],
        "exempt": [r for r in rows if r["status"] == EXEMPT],
    }


# ---------------------------------------------------------------- audiences


def applicant_user_ids(theme_id: int) -> list[int]:
    """Users who applied through a bundle (any version): the "applicants of a bundle" audience."""
    return list(
        db.session.scalars(
            select(ThemeApplication.user_id)
            .where(ThemeApplication.bundle_id == theme_id)
            .distinct()
            .order_by(ThemeApplication.user_id)
        )
    )


def bundle_applicants_audience(department_id: int, params: dict[str, Any]) -> Select:
    """Campaign audience ``bundle_applicants``: for a department handling one of its items."""
    bundle = db.session.get(ThemeBundle, params["theme_id"])
    if bundle is None:
        raise UnprocessableEntity("主题服务不存在", code="unknown_theme", field="audience.theme_id")
    item_ids = {i for v in bundle.versions for i in v.service_item_ids}
    handles = db.session.scalar(
        select(ServiceItem.id)
        .where(ServiceItem.id.in_(item_ids), ServiceItem.department_id == department_id)
        .limit(1)
    )
    if handles is None:
        raise Forbidden(
            "只能向本部门参与办理的主题服务的申请人发送通知",
            code="theme_not_yours",
            field="audience.theme_id",
        )
    return (
        select(ThemeApplication.user_id.label("user_id"))
        .join(User, User.id == ThemeApplication.user_id)
        .where(ThemeApplication.bundle_id == bundle.id, User.enabled.is_(True))
    )


audiences.set_resolver("bundle_applicants", bundle_applicants_audience)
