"""Department campaigns: a notice to an audience, previewed, fanned out in batches, reported.

Creating a campaign writes one row and queues one fan-out job (the row is its own outbox).
The job writes notifications and deliveries batch by batch, each batch in one transaction
together with the cursor, so a crashed fan-out resumes where it stopped and nobody is told
twice; delivery jobs for a batch are queued on the bulk queue once the batch commits.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import (
    Integer,
    Select,
    String,
    bindparam,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from backend import clock
from backend.errors import AppError, Forbidden, NotFound, UnprocessableEntity
from backend.extensions import db
from backend.models import Department, User
from backend.models.base import UTCDateTime
from backend.services.tx import transactional
from notifications import audiences
from notifications.models import (
    Campaign,
    CampaignState,
    Delivery,
    Notification,
    WeChatSubscription,
)
from notifications.outbox import create_deliveries
from notifications.queue import enqueue_after_commit, queued_until
from notifications.templates import template_for, template_id

log = logging.getLogger(__name__)

CATEGORY = "campaign"
FANOUT_LEASE_S = 300
_notifications = Notification.__table__


def _department_of(officer: User) -> int:
    if officer.department_id is None:
        raise Forbidden("账号未关联部门", code="no_department")
    return officer.department_id


def _distinct_ids(query, after: int = 0) -> Any:
    """Distinct user ids of an audience query, optionally only those above ``after``."""
    sub = query.subquery()
    ids = select(sub.c.user_id).distinct()
    return ids.where(sub.c.user_id > after) if after else ids


def preview(officer: User, audience: dict[str, Any]) -> dict[str, int]:
    """How many people an audience reaches now, and how many of them by WeChat."""
    department_id = _department_of(officer)
    ids = _distinct_ids(audiences.resolve(department_id, audience)).subquery()
    recipients = db.session.scalar(select(func.count()).select_from(ids))
    wechat = template_for(CATEGORY).wechat
    reachable = db.session.scalar(
        select(func.count(func.distinct(WeChatSubscription.user_id)))
        .join(User, User.id == WeChatSubscription.user_id)
        .where(
            WeChatSubscription.user_id.in_(select(ids.c.user_id)),
            WeChatSubscription.template_id == template_id(wechat),
            User.wechat_openid.is_not(None),
            or_(
                WeChatSubscription.long_term.is_(True),
                WeChatSubscription.one_time_remaining > 0,
            ),
        )
    )
    return {"recipients": recipients, "wechat_reachable": reachable}


def _new_campaign(
    department_id: int,
    created_by_id: int | None,
    category: str,
    fields: dict[str, Any],
    internal: bool = False,
) -> Campaign:
    """Add a campaign, its audience checked, and queue its fan-out after commit."""
    query = audiences.resolve(department_id, fields["audience"], internal=internal)
    ids = _distinct_ids(query)
    size = db.session.scalar(select(func.count()).select_from(ids.subquery()))
    department = db.session.get(Department, department_id)
    campaign = Campaign(
        department_id=department_id,
        created_by_id=created_by_id,
        category=category,
        title=fields["title"],
        body=fields["body"],
        link=fields.get("link"),
        data={"department": department.name, **(fields.get("data") or {})},
        audience=fields["audience"],
        audience_size=size,
        state=CampaignState.QUEUED,
        enqueued_until=queued_until(),
        dedupe_key=fields.get("dedupe_key"),
    )
    db.session.add(campaign)
    db.session.flush()
    enqueue_after_commit("campaign", [campaign.id])
    return campaign


@transactional
def create(officer: User, fields: dict[str, Any]) -> Campaign:
    """An officer's notice to an audience of their department; refused when nobody is in it."""
    department_id = _department_of(officer)
    fields = {**fields, "title": fields["title"].strip(), "body": fields["body"].strip()}
    for name in ("title", "body"):
        if not fields[name]:
            raise UnprocessableEntity(f"字段不能为空:{name}", code="missing_field", field=name)
    campaign = _new_campaign(department_id, officer.id, CATEGORY, fields)
    if campaign.audience_size == 0:
        raise UnprocessableEntity("该受众目前没有任何人", code="empty_audience", field="audience")
    return campaign


def create_system(department_id: int, category: str, fields: dict[str, Any]) -> Campaign:
    """A campaign the platform itself sends (expiry reminders); joins the caller's transaction."""
    return _new_campaign(department_id, None, category, fields, internal=True)


def get_for(officer: User, campaign_id: int) -> Campaign:
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.department_id != _department_of(officer):
        raise NotFound("通知任务不存在", code="campaign_not_found")
    return campaign


def list_for(officer: User, page: int = 1, per_page: int = 20) -> dict[str, Any]:
    mine = Campaign.department_id == _department_of(officer)
    total = db.session.scalar(select(func.count(Campaign.id)).where(mine))
    items = list(
        db.session.scalars(
            select(Campaign)
            .where(mine)
            .order_by(Campaign.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return {"items": items, "page": page, "per_page": per_page, "total": total}


def delivery_counts(campaign_id: int) -> dict[str, dict[str, int]]:
    """``{channel: {state: count}}`` over the campaign's deliveries."""
    rows = db.session.execute(
        select(Delivery.channel, Delivery.state, func.count(Delivery.id))
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(Notification.campaign_id == campaign_id)
        .group_by(Delivery.channel, Delivery.state)
    ).all()
    counts: dict[str, dict[str, int]] = {}
    for channel, state, count in rows:
        counts.setdefault(channel, {})[state] = count
    return counts


# --- fan-out (worker) ------------------------------------------------------------------------


@transactional
def _claim(campaign_id: int) -> bool:
    now = clock.now()
    result = db.session.execute(
        update(Campaign)
        .where(
            Campaign.id == campaign_id,
            Campaign.state.in_([CampaignState.QUEUED, CampaignState.SENDING]),
            or_(Campaign.claimed_until.is_(None), Campaign.claimed_until < now),
        )
        .values(
            state=CampaignState.SENDING,
            claimed_until=now + timedelta(seconds=FANOUT_LEASE_S),
            enqueued_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _listed(user_ids: list[int], *columns) -> Select:
    """SELECT each of ``user_ids`` with ``columns``: one array parameter on PostgreSQL (a
    list of 2,000 parameters costs more to send than the insert), a plain IN elsewhere."""
    if db.session.get_bind().dialect.name == "postgresql":
        listed = func.unnest(bindparam("user_ids", user_ids, type_=ARRAY(Integer)))
        table = listed.table_valued("user_id").render_derived()
        return select(table.c.user_id, *columns)
    return select(User.id, *columns).where(User.id.in_(user_ids))


@transactional
def _write_batch(campaign: Campaign, user_ids: list[int]) -> int:
    """Notify a batch of recipients (ascending user ids) and move the cursor past them."""
    now = clock.now()
    constants = {
        "category": literal(campaign.category),
        "title": literal(campaign.title[:100]),
        "body": literal(campaign.body),
        "link": literal(campaign.link, String()),
        "campaign_id": literal(campaign.id),
        "created_at": literal(now, UTCDateTime()),
    }
    rows = _listed(user_ids, *constants.values())
    db.session.execute(insert(_notifications).from_select(["user_id", *constants], rows))
    batch = [
        Notification.campaign_id == campaign.id,
        Notification.user_id >= user_ids[0],
        Notification.user_id <= user_ids[-1],
    ]
    create_deliveries(batch, campaign.category, bulk=True)
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id)
        .values(
            cursor_user_id=user_ids[-1],
            recipients=Campaign.recipients + len(user_ids),
            claimed_until=now + timedelta(seconds=FANOUT_LEASE_S),
        )
        .execution_options(synchronize_session=False)
    )
    return len(user_ids)


@transactional
def _finish(campaign_id: int) -> None:
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id)
        .values(state=CampaignState.SENT, finished_at=clock.now(), claimed_until=None)
        .execution_options(synchronize_session=False)
    )


def fan_out(campaign_id: int) -> int:
    """Write the campaign's notifications in batches at most ``CAMPAIGN_FANOUT_RATE_PER_S``
    recipients a second; returns how many were written in this run."""
    if not _claim(campaign_id):
        return 0
    campaign = db.session.get(Campaign, campaign_id, populate_existing=True)
    try:
        query = audiences.resolve(campaign.department_id, campaign.audience, internal=True)
    except AppError as exc:  # the audience went away (a type was removed): nothing to send
        log.warning("campaign %s audience unavailable: %s", campaign_id, exc.message)
        _finish(campaign_id)
        return 0
    # Resume after a crash: who is at or below the cursor has been written already.
    user_ids = sorted(db.session.scalars(_distinct_ids(query, after=campaign.cursor_user_id)))
    batch = current_app.config["CAMPAIGN_BATCH_SIZE"]
    rate = current_app.config["CAMPAIGN_FANOUT_RATE_PER_S"]
    written = 0
    for start in range(0, len(user_ids), batch):
        began = time.monotonic()
        part = user_ids[start : start + batch]
        written += _write_batch(campaign, part)
        if rate:  # keep the database and the queue breathing for everyone else
            time.sleep(max(0.0, len(part) / rate - (time.monotonic() - began)))
    _finish(campaign_id)
    return written
