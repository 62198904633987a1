"""The review workflow: submit, approve or return, publish in numbered batches.

draft ─submit→ submitted ─approve→ approved ─publish (in a batch)→ published ─revise→ draft …
returned ←return─ submitted/approved;  returned ─submit→ submitted

Every step locks the item row (PostgreSQL) and bumps its row version, so of two concurrent
steps on one item exactly one succeeds; the other gets 409. A step from the wrong state is
409 ``invalid_state`` naming the current state.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from backend import clock
from backend.errors import Conflict, UnprocessableEntity
from backend.extensions import db
from backend.models import User
from backend.models.service_items import (
    ItemState,
    PublicationBatch,
    ServiceItem,
    ServiceItemEvent,
    ServiceItemVersion,
)
from backend.services.service_items import (
    EDITABLE_STATES,
    flush_or_conflict,
    get_item,
    latest_version,
    public_version,
    record_event,
    require_own_department,
    require_state,
)
from backend.services.tx import transactional
from notifications.service import notify

NOTIFY_CATEGORY = "service_item"


def _move(item: ServiceItem, version: ServiceItemVersion, to_state: ItemState) -> str:
    from_state = item.state
    item.state = to_state
    version.state = to_state
    item.updated_at = clock.now()
    return from_state


def _submitter_id(item: ServiceItem) -> int | None:
    return db.session.scalar(
        select(ServiceItemEvent.actor_id)
        .where(ServiceItemEvent.item_id == item.id, ServiceItemEvent.action == "submitted")
        .order_by(ServiceItemEvent.id.desc())
        .limit(1)
    )


def _tell_submitter(item: ServiceItem, title: str, body: str) -> None:
    user_id = _submitter_id(item)
    if user_id is not None:
        notify(user_id, NOTIFY_CATEGORY, title, body, link=f"/service-items/{item.id}")


@transactional
def submit_item(officer: User, item_id: int) -> ServiceItem:
    """An officer sends a draft (or a returned item) to the supervisor for review."""
    item = get_item(item_id, lock=True)
    require_own_department(officer, item)
    return submit(item, officer)


def submit(item: ServiceItem, actor: User | None) -> ServiceItem:
    require_state(item, EDITABLE_STATES, "提交审核")
    version = latest_version(item)
    from_state = _move(item, version, ItemState.SUBMITTED)
    version.submitted_at = clock.now()
    flush_or_conflict()
    record_event(item, actor, "submitted", from_state)
    return item


@transactional
def approve_item(supervisor: User, item_id: int, comment: str | None = None) -> ServiceItem:
    """The supervisor approves a submitted item; it waits for the next batch."""
    return approve(get_item(item_id, lock=True), supervisor, comment)


def approve(item: ServiceItem, actor: User | None, comment: str | None = None) -> ServiceItem:
    require_state(item, (ItemState.SUBMITTED,), "审核通过")
    version = latest_version(item)
    from_state = _move(item, version, ItemState.APPROVED)
    version.approved_at = clock.now()
    version.return_reason = None
    flush_or_conflict()
    record_event(item, actor, "approved", from_state, reason=comment)
    return item


@transactional
def return_item(supervisor: User, item_id: int, reason: str) -> ServiceItem:
    """The supervisor returns a submitted or approved item with a reason."""
    return send_back(get_item(item_id, lock=True), supervisor, reason)


def send_back(item: ServiceItem, actor: User | None, reason: str) -> ServiceItem:
    reason = reason.strip()
    if not reason:
        raise UnprocessableEntity("请填写退回原因", code="missing_field", field="reason")
    require_state(item, (ItemState.SUBMITTED, ItemState.APPROVED), "退回")
    version = latest_version(item)
    from_state = _move(item, version, ItemState.RETURNED)
    version.return_reason = reason
    version.approved_at = None
    flush_or_conflict()
    record_event(item, actor, "returned", from_state, reason=reason)
    _tell_submitter(item, "事项被退回", f"「{item.handling_item}」被退回:{reason}")
    return item


def publish_version(item: ServiceItem, batch: PublicationBatch, actor: User | None) -> None:
    """Make the item's latest (approved) version the public one; the old one is superseded."""
    version = latest_version(item)
    previous = public_version(item)
    if previous is not None and previous.id != version.id:
        previous.is_public = False
        previous.state = ItemState.SUPERSEDED
    from_state = _move(item, version, ItemState.PUBLISHED)
    version.is_public = True
    version.batch_id = batch.id
    version.published_at = clock.now()
    item.published_number = version.number
    record_event(item, actor, "published", from_state, batch_id=batch.id)


def next_batch_number() -> int:
    return (db.session.scalar(select(func.max(PublicationBatch.number))) or 0) + 1


def new_batch(title: str, published_on: date | None, actor: User | None) -> PublicationBatch:
    batch = PublicationBatch(
        number=next_batch_number(),
        title=title.strip(),
        published_on=published_on or clock.now().astimezone(clock.SHANGHAI).date(),
        published_by_id=actor.id if actor else None,
        created_at=clock.now(),
    )
    db.session.add(batch)
    flush_or_conflict(
        Conflict("另一批次正在发布,请稍后重试", code="batch_number_taken", field="number")
    )
    return batch


@transactional
def publish_batch(
    supervisor: User, title: str, item_ids: list[int], published_on: date | None = None
) -> tuple[PublicationBatch, list[ServiceItem]]:
    """Publish approved items as the next numbered batch: all of them or none."""
    items = []
    for item_id in sorted(set(item_ids)):  # one lock order: no deadlock between two batches
        item = get_item(item_id, lock=True)
        require_state(item, (ItemState.APPROVED,), f"发布事项 {item.id}(须先审核通过)")
        items.append(item)
    batch = new_batch(title, published_on, supervisor)
    for item in items:
        publish_version(item, batch, supervisor)
        _tell_submitter(
            item, "事项已发布", f"「{item.handling_item}」已在第 {batch.number} 批清单中发布"
        )
    flush_or_conflict()
    return batch, items


def list_batches() -> list[tuple[PublicationBatch, int]]:
    """Every batch, newest first, with how many item versions it published."""
    counts = (
        select(ServiceItemVersion.batch_id, func.count().label("n"))
        .group_by(ServiceItemVersion.batch_id)
        .subquery()
    )
    rows = db.session.execute(
        select(PublicationBatch, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.batch_id == PublicationBatch.id)
        .order_by(PublicationBatch.number.desc())
    )
    return [(batch, count) for batch, count in rows]
