"""Service items as departments maintain them: content rules, create, edit, revise, history.

The workflow (submit, approve, return, publish) is in ``service_item_workflow``; the
public list in ``exemption_list``. Content rules are checked here once, for the API and the
catalogue import alike: ``check_content`` returns every problem, ``checked_content`` raises.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from backend import clock
from backend.errors import AppError, Conflict, Forbidden, NotFound, UnprocessableEntity
from backend.extensions import db
from backend.models import CertificateType, Department, Role, User
from backend.models.service_items import (
    CATEGORIES,
    STATE_LABELS,
    ExemptionBasis,
    ItemState,
    Material,
    ServiceItem,
    ServiceItemEvent,
    ServiceItemVersion,
)
from backend.services.tx import transactional

NAME_MAX = 200
ISSUER_MAX = 100
NOTES_MAX = 500
MAX_MATERIALS = 50
EDITABLE_STATES = (ItemState.DRAFT, ItemState.RETURNED)
BASES = tuple(b.value for b in ExemptionBasis)


# ---------------------------------------------------------------- content rules


@dataclass
class Lookups:
    """Reference data content is checked against, loaded once per request or import."""

    certificate_types: dict[str, CertificateType]
    departments_by_name: dict[str, Department]
    departments_by_code: dict[str, Department]

    @classmethod
    def load(cls) -> Lookups:
        departments = list(db.session.scalars(select(Department)))
        return cls(
            certificate_types={t.code: t for t in db.session.scalars(select(CertificateType))},
            departments_by_name={d.name: d for d in departments},
            departments_by_code={d.code: d for d in departments},
        )

    def department(self, name_or_code: str | None) -> Department | None:
        if not name_or_code:
            return None
        return self.departments_by_name.get(name_or_code) or self.departments_by_code.get(
            name_or_code
        )


def _problem(field: str, code: str, message: str) -> dict[str, str]:
    return {"field": field, "code": code, "message": message}


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _check_name(
    content: dict, key: str, label: str, limit: int, problems: list, prefix: str = ""
) -> str:
    value = _text(content.get(key))
    field = prefix + key
    if not value:
        problems.append(_problem(field, "missing_field", f"{label}不能为空"))
    elif len(value) > limit:
        problems.append(_problem(field, "too_long", f"{label}不能超过 {limit} 个字"))
    return value


def _check_material(
    raw: dict, index: int, lookups: Lookups, problems: list[dict[str, str]]
) -> dict[str, Any]:
    prefix = f"materials.{index}."
    name = _check_name(raw, "name", "材料名称", NAME_MAX, problems, prefix)
    basis = raw.get("exemption_basis") or None
    if basis is not None and basis not in BASES:
        problems.append(
            _problem(
                prefix + "exemption_basis",
                "invalid_exemption_basis",
                "免提交方式应为 certificate、verification_request、commitment 或留空",
            )
        )
    type_code = _text(raw.get("certificate_type")) or None
    certificate_type = None
    if type_code is not None:
        certificate_type = lookups.certificate_types.get(type_code)
        if certificate_type is None:
            problems.append(
                _problem(
                    prefix + "certificate_type",
                    "unknown_certificate_type",
                    f"证照类型不存在:{type_code}",
                )
            )
    elif basis == ExemptionBasis.CERTIFICATE:
        problems.append(
            _problem(
                prefix + "certificate_type",
                "certificate_type_required",
                "免提交方式为电子证照时须关联证照类型",
            )
        )
    fields = [_text(f) for f in raw.get("certificate_fields") or [] if _text(f)]
    if fields and type_code is None:
        problems.append(
            _problem(
                prefix + "certificate_fields",
                "certificate_type_required",
                "指定证照字段时须关联证照类型",
            )
        )
    elif certificate_type is not None:
        unknown = [f for f in fields if f not in certificate_type.field_names()]
        if unknown:
            problems.append(
                _problem(
                    prefix + "certificate_fields",
                    "unknown_certificate_field",
                    f"证照类型「{certificate_type.name}」没有字段:{'、'.join(unknown)}",
                )
            )
    issuer = _text(raw.get("issuing_department")) or None
    if issuer is None and certificate_type is not None:
        issuer = certificate_type.department.name
    if issuer is not None and len(issuer) > ISSUER_MAX:
        problems.append(
            _problem(
                prefix + "issuing_department", "too_long", f"出具部门不能超过 {ISSUER_MAX} 个字"
            )
        )
    department = lookups.department(issuer)
    if basis == ExemptionBasis.VERIFICATION_REQUEST and department is None:
        problems.append(
            _problem(
                prefix + "issuing_department",
                "unknown_issuing_department",
                "免提交方式为部门协查时,出具部门须为本市已登记的部门",
            )
        )
    notes = _text(raw.get("notes"))
    if len(notes) > NOTES_MAX:
        problems.append(_problem(prefix + "notes", "too_long", f"备注不能超过 {NOTES_MAX} 个字"))
    required = raw.get("required", True)
    return {
        "name": name,
        "issuing_department": department.name if department is not None else issuer,
        "certificate_type": type_code,
        "certificate_fields": fields,
        "exemption_basis": basis,
        "required": bool(required),
        "notes": notes,
    }


ITEM_FIELDS = {
    "category": str,
    "main_item": str,
    "sub_item": str,
    "handling_item": str,
    "materials": list,
}
MATERIAL_FIELDS = {
    "name": str,
    "issuing_department": str,
    "certificate_type": str,
    "certificate_fields": list,
    "exemption_basis": str,
    "required": bool,
    "notes": str,
}


def _shape_problems(raw: Any, spec: dict[str, type], prefix: str) -> list[dict[str, str]]:
    """Unknown keys and wrong types (the API's JSON Schema catches these before; imports don't)."""
    if not isinstance(raw, dict):
        return [_problem(prefix.rstrip(".") or "body", "invalid_type", "应为对象")]
    problems = []
    for key, value in raw.items():
        kind = spec.get(key)
        if kind is None:
            problems.append(_problem(prefix + key, "unknown_field", f"不允许的字段:{key}"))
        elif value is not None and not isinstance(value, kind):
            problems.append(_problem(prefix + key, "invalid_type", f"字段类型错误:{key}"))
        elif key == "certificate_fields" and not all(isinstance(v, str) for v in value or []):
            problems.append(_problem(prefix + key, "invalid_type", "证照字段应为字符串列表"))
    return problems


def check_content(content: Any, lookups: Lookups) -> tuple[dict[str, Any], list[dict]]:
    """Normalise an item's content and list every problem (field, code, Chinese message)."""
    problems = _shape_problems(content, ITEM_FIELDS, "")
    if not isinstance(content, dict) or problems:
        return {}, problems
    for i, raw in enumerate(content.get("materials") or []):
        problems.extend(_shape_problems(raw, MATERIAL_FIELDS, f"materials.{i}."))
    if problems:
        return {}, problems
    category = _text(content.get("category"))
    if category not in CATEGORIES:
        problems.append(
            _problem("category", "invalid_category", "事项类别应为:" + "、".join(CATEGORIES))
        )
    normalised: dict[str, Any] = {"category": category}
    for key, label in (("main_item", "主项名称"), ("sub_item", "子项名称")):
        normalised[key] = _check_name(content, key, label, NAME_MAX, problems)
    normalised["handling_item"] = _check_name(
        content, "handling_item", "办理项名称", NAME_MAX, problems
    )
    raw_materials = content.get("materials") or []
    if not raw_materials:
        problems.append(_problem("materials", "missing_field", "至少需要一项申请材料"))
    elif len(raw_materials) > MAX_MATERIALS:
        problems.append(_problem("materials", "too_many", f"申请材料不能超过 {MAX_MATERIALS} 项"))
    materials = [_check_material(m, i, lookups, problems) for i, m in enumerate(raw_materials)]
    seen: set[str] = set()
    for i, material in enumerate(materials):
        if material["name"] and material["name"] in seen:
            problems.append(
                _problem(
                    f"materials.{i}.name",
                    "duplicate_material",
                    f"同一办理项下材料名称重复:{material['name']}",
                )
            )
        seen.add(material["name"])
    normalised["materials"] = materials
    return normalised, problems


def checked_content(content: dict, lookups: Lookups | None = None) -> dict[str, Any]:
    """The normalised content, or 422 naming the first problem (all of them in details)."""
    normalised, problems = check_content(content, lookups or Lookups.load())
    if problems:
        first = problems[0]
        raise UnprocessableEntity(
            first["message"], code=first["code"], field=first["field"], details=problems
        )
    return normalised


# ---------------------------------------------------------------- versions and content


def version_content(version: ServiceItemVersion) -> dict[str, Any]:
    """A version's content in the shape ``check_content`` accepts (export, history)."""
    return {
        "category": version.category,
        "main_item": version.main_item,
        "sub_item": version.sub_item,
        "handling_item": version.handling_item,
        "materials": [
            {
                "name": m.name,
                "issuing_department": m.issuing_department_name,
                "certificate_type": m.certificate_type.code if m.certificate_type else None,
                "certificate_fields": list(m.certificate_fields or []),
                "exemption_basis": m.exemption_basis,
                "required": m.required,
                "notes": m.notes,
            }
            for m in version.materials
        ],
    }


def bigrams(text: str) -> list[str]:
    """Distinct two-character pieces of each word: what Chinese text search can index.

    Any substring of the text of two or more characters (without spaces) is made of
    bigrams of one word, so matching every bigram of a query never misses a match.
    """
    grams: set[str] = set()
    for word in text.lower().split():
        grams.update(word[i : i + 2] for i in range(len(word) - 1))
    return sorted(grams)


def _quoted(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def search_terms_for(text: str) -> str:
    """The text's bigrams in PostgreSQL's tsvector input syntax (stored as is on SQLite)."""
    return " ".join(_quoted(g) for g in bigrams(text))


def search_query_for(text: str) -> str | None:
    """A tsquery matching rows that contain every bigram of ``text``; None under two chars."""
    grams = bigrams(text)
    return " & ".join(_quoted(g) for g in grams) if grams else None


def search_text_for(department: Department, content: dict, lookups: Lookups) -> str:
    """What text search looks in: department, category, names, materials, linked types."""
    parts = [
        department.name,
        content["category"],
        content["main_item"],
        content["sub_item"],
        content["handling_item"],
    ]
    for material in content["materials"]:
        parts.append(material["name"])
        if material["certificate_type"]:
            parts.append(lookups.certificate_types[material["certificate_type"]].name)
    return " ".join(parts).lower()


def apply_content(
    version: ServiceItemVersion, department: Department, content: dict, lookups: Lookups
) -> None:
    """Replace a version's names and materials with checked content."""
    version.department_id = department.id
    version.category = content["category"]
    version.main_item = content["main_item"]
    version.sub_item = content["sub_item"]
    version.handling_item = content["handling_item"]
    version.search_text = search_text_for(department, content, lookups)
    version.search_terms = search_terms_for(version.search_text)
    version.updated_at = clock.now()
    materials = []
    for position, m in enumerate(content["materials"], start=1):
        certificate_type = lookups.certificate_types.get(m["certificate_type"] or "")
        issuer = lookups.department(m["issuing_department"])
        materials.append(
            Material(
                position=position,
                name=m["name"],
                issuing_department_name=m["issuing_department"],
                issuing_department_id=issuer.id if issuer else None,
                certificate_type_id=certificate_type.id if certificate_type else None,
                certificate_type=certificate_type,
                certificate_fields=m["certificate_fields"],
                exemption_basis=m["exemption_basis"],
                required=m["required"],
                notes=m["notes"],
            )
        )
    version.materials = materials


def _version(item: ServiceItem, number: int | None) -> ServiceItemVersion | None:
    # An item has a handful of versions; the relationship also sees ones not yet flushed.
    return next((v for v in item.versions if v.number == number), None)


def latest_version(item: ServiceItem) -> ServiceItemVersion:
    return _version(item, item.latest_number)


def public_version(item: ServiceItem) -> ServiceItemVersion | None:
    return _version(item, item.published_number)


# ---------------------------------------------------------------- guards and history


def invalid_state(item: ServiceItem, action_label: str) -> AppError:
    """409 naming the item's current state, e.g. when approving an item not submitted."""
    label = STATE_LABELS.get(ItemState(item.state), item.state)
    return Conflict(
        f"事项当前状态为「{label}」,不能{action_label}",
        code="invalid_state",
        current_state=item.state,
        item_id=item.id,
    )


def require_state(item: ServiceItem, allowed: Iterable[str], action_label: str) -> None:
    if item.state not in tuple(allowed):
        raise invalid_state(item, action_label)


def require_own_department(officer: User, item: ServiceItem) -> None:
    """Officers maintain only their own department's items."""
    if officer.role != Role.DEPARTMENT_OFFICER or officer.department_id != item.department_id:
        raise Forbidden("只能维护本部门的事项", code="not_your_department")


def require_staff_access(caller: User, item: ServiceItem) -> None:
    """The supervisor sees every item's working copy; an officer only their department's."""
    if caller.role == Role.SUPERVISOR:
        return
    require_own_department(caller, item)


def get_item(item_id: int, *, lock: bool = False) -> ServiceItem:
    """The item, or 404. ``lock`` takes a row lock (PostgreSQL) and re-reads the row."""
    stmt = select(ServiceItem).where(ServiceItem.id == item_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    item = db.session.scalar(stmt)
    if item is None:
        raise NotFound("事项不存在", code="service_item_not_found")
    return item


def record_event(
    item: ServiceItem,
    actor: User | None,
    action: str,
    from_state: str | None,
    *,
    reason: str | None = None,
    batch_id: int | None = None,
    snapshot: dict | None = None,
) -> ServiceItemEvent:
    event = ServiceItemEvent(
        item_id=item.id,
        version_number=item.latest_number,
        actor_id=actor.id if actor else None,
        action=action,
        from_state=from_state,
        to_state=item.state,
        reason=reason,
        batch_id=batch_id,
        snapshot=snapshot,
        created_at=clock.now(),
    )
    db.session.add(event)
    return event


def flush_or_conflict(on_duplicate: AppError | None = None) -> None:
    """Flush now so races surface as 409s: a unique constraint, or a stale row version."""
    try:
        db.session.flush()
    except IntegrityError as exc:
        raise (on_duplicate or Conflict("数据已存在", code="duplicate")) from exc
    except StaleDataError as exc:
        raise Conflict("事项已被他人修改,请刷新后重试", code="concurrent_update") from exc


def duplicate_name(handling_item: str) -> AppError:
    return Conflict(
        f"本部门已有同名办理项:{handling_item}",
        code="duplicate_handling_item",
        field="handling_item",
    )


def _ensure_unique_name(department_id: int, handling_item: str, item_id: int | None) -> None:
    stmt = select(ServiceItem.id).where(
        ServiceItem.department_id == department_id, ServiceItem.handling_item == handling_item
    )
    if item_id is not None:
        stmt = stmt.where(ServiceItem.id != item_id)
    if db.session.scalar(stmt) is not None:
        raise duplicate_name(handling_item)


def _officer_department(officer: User) -> Department:
    if officer.role != Role.DEPARTMENT_OFFICER or officer.department is None:
        raise Forbidden("只有部门工作人员可以维护事项", code="not_your_department")
    return officer.department


# ---------------------------------------------------------------- create, edit, revise


def new_item(
    department: Department,
    content: dict,
    lookups: Lookups,
    actor: User | None,
    *,
    code: str | None = None,
    action: str = "created",
) -> ServiceItem:
    """Add a draft item with version 1 to the current transaction (content already checked)."""
    _ensure_unique_name(department.id, content["handling_item"], None)
    now = clock.now()
    item = ServiceItem(
        code=code,
        department_id=department.id,
        department=department,
        handling_item=content["handling_item"],
        state=ItemState.DRAFT,
        latest_number=1,
        created_at=now,
        updated_at=now,
    )
    version = ServiceItemVersion(
        item=item, number=1, state=ItemState.DRAFT, created_by_id=actor.id if actor else None
    )
    apply_content(version, department, content, lookups)
    db.session.add(item)
    flush_or_conflict(duplicate_name(content["handling_item"]))
    record_event(item, actor, action, None, snapshot=content)
    return item


@transactional
def create_item(officer: User, content: dict) -> ServiceItem:
    """A new draft item of the officer's department."""
    department = _officer_department(officer)
    lookups = Lookups.load()
    return new_item(department, checked_content(content, lookups), lookups, officer)


def change_content(
    item: ServiceItem, content: dict, lookups: Lookups, actor: User | None, action: str = "updated"
) -> ServiceItem:
    """Replace the latest (editable) version's content; content already checked."""
    _ensure_unique_name(item.department_id, content["handling_item"], item.id)
    version = latest_version(item)
    apply_content(version, item.department, content, lookups)
    item.handling_item = content["handling_item"]
    item.updated_at = clock.now()
    flush_or_conflict(duplicate_name(content["handling_item"]))
    record_event(item, actor, action, item.state, snapshot=content)
    return item


@transactional
def update_item(officer: User, item_id: int, content: dict) -> ServiceItem:
    """Edit a draft or returned item of the officer's department."""
    item = get_item(item_id, lock=True)
    require_own_department(officer, item)
    require_state(item, EDITABLE_STATES, "修改")
    lookups = Lookups.load()
    return change_content(item, checked_content(content, lookups), lookups, officer)


def start_revision(item: ServiceItem, actor: User | None) -> ServiceItemVersion:
    """Copy the published version into a new draft; the public keeps the published one."""
    source = latest_version(item)
    revision = ServiceItemVersion(
        item=item,
        department_id=item.department_id,
        number=item.latest_number + 1,
        state=ItemState.DRAFT,
        category=source.category,
        main_item=source.main_item,
        sub_item=source.sub_item,
        handling_item=source.handling_item,
        search_text=source.search_text,
        search_terms=source.search_terms,
        created_by_id=actor.id if actor else None,
        updated_at=clock.now(),
        materials=[
            Material(
                position=m.position,
                name=m.name,
                issuing_department_name=m.issuing_department_name,
                issuing_department_id=m.issuing_department_id,
                certificate_type_id=m.certificate_type_id,
                certificate_fields=list(m.certificate_fields or []),
                exemption_basis=m.exemption_basis,
                required=m.required,
                notes=m.notes,
            )
            for m in source.materials
        ],
    )
    db.session.add(revision)
    from_state = item.state
    item.latest_number += 1
    item.state = ItemState.DRAFT
    item.updated_at = clock.now()
    flush_or_conflict()
    record_event(item, actor, "revision_started", from_state)
    return revision


@transactional
def revise_item(officer: User, item_id: int) -> ServiceItem:
    """Start a revision of a published item."""
    item = get_item(item_id, lock=True)
    require_own_department(officer, item)
    require_state(item, (ItemState.PUBLISHED,), "发起修订(仅已发布的事项可修订)")
    start_revision(item, officer)
    return item


# ---------------------------------------------------------------- staff reading


def staff_item(caller: User, item_id: int) -> tuple[ServiceItem, ServiceItemVersion]:
    """The item and its latest version, for its department's officers and the supervisor."""
    item = get_item(item_id)
    require_staff_access(caller, item)
    return item, latest_version(item)


def item_history(caller: User, item_id: int) -> list[ServiceItemEvent]:
    item = get_item(item_id)
    require_staff_access(caller, item)
    return list(
        db.session.scalars(
            select(ServiceItemEvent)
            .where(ServiceItemEvent.item_id == item.id)
            .order_by(ServiceItemEvent.id)
            .options(selectinload(ServiceItemEvent.actor), selectinload(ServiceItemEvent.batch))
        )
    )


@dataclass
class Page:
    rows: list[Any]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return (self.total + self.per_page - 1) // self.per_page


def paginate(stmt, page: int, per_page: int) -> Page:
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = list(db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
    return Page(rows, total or 0, page, per_page)


def list_staff_items(caller: User, query: dict[str, Any]) -> Page:
    """Items with their latest version: an officer's department, or any for the supervisor."""
    stmt = (
        select(ServiceItemVersion)
        .join(
            ServiceItem,
            (ServiceItem.id == ServiceItemVersion.item_id)
            & (ServiceItem.latest_number == ServiceItemVersion.number),
        )
        .options(
            selectinload(ServiceItemVersion.item).selectinload(ServiceItem.department),
            selectinload(ServiceItemVersion.materials).selectinload(Material.certificate_type),
        )
        .order_by(ServiceItem.id)
    )
    if caller.role == Role.DEPARTMENT_OFFICER:
        stmt = stmt.where(ServiceItem.department_id == caller.department_id)
    elif query.get("department"):
        stmt = stmt.join(Department, Department.id == ServiceItem.department_id).where(
            Department.code == query["department"]
        )
    if query.get("state"):
        stmt = stmt.where(ServiceItem.state == query["state"])
    if query.get("category"):
        stmt = stmt.where(ServiceItemVersion.category == query["category"])
    if query.get("q"):
        stmt = stmt.where(
            ServiceItemVersion.search_text.contains(query["q"].strip().lower(), autoescape=True)
        )
    return paginate(stmt, query.get("page", 1), query.get("per_page", 20))
