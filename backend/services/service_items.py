"""Service items as departments maintain them: create, edit, revise, guards and history.

Content rules are in ``service_item_content``; the workflow (submit, approve, return,
publish) in ``service_item_workflow``; the public list in ``exemption_list``.
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
from backend.errors import AppError, Conflict, Forbidden, NotFound
from backend.extensions import db
from backend.models import Department, Role, User
from backend.models.service_items import (
    STATE_LABELS,
    ItemState,
    Material,
    ServiceItem,
    ServiceItemEvent,
    ServiceItemVersion,
)
from backend.services.service_item_content import Lookups, apply_content, checked_content
from backend.services.tx import transactional

EDITABLE_STATES = (ItemState.DRAFT, ItemState.RETURNED)


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
