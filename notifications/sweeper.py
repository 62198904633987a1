"""The sweeper: whatever should be queued but is not, it queues. Nothing is lost.

It finds pending deliveries that are due and neither in the queue (``enqueued_until`` unset
or run out) nor being sent, and campaigns whose fan-out is not running: rows written while
Redis was down, retries whose backoff has passed, jobs lost with a Redis restart. Run it
every few seconds (the worker does) or from cron (``flask notifications-sweep``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select, update

from backend import clock
from backend.extensions import db
from backend.services.tx import transactional
from notifications.models import Campaign, CampaignState, Delivery, DeliveryState, Notification
from notifications.queue import enqueue_after_commit, queue_redis, queued_until

SWEEP_LIMIT = 20_000


@dataclass
class SweepResult:
    deliveries: int = 0
    campaigns: int = 0


def _stale(model, now):
    return (
        or_(model.enqueued_until.is_(None), model.enqueued_until < now),
        or_(model.claimed_until.is_(None), model.claimed_until < now),
    )


@transactional
def _queue_due(limit: int) -> SweepResult:
    now = clock.now()
    lease = queued_until()
    rows = db.session.execute(
        select(Delivery.id, Notification.campaign_id)
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(
            Delivery.state == DeliveryState.PENDING,
            Delivery.next_attempt_at <= now,
            *_stale(Delivery, now),
        )
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
    ).all()
    campaign_ids = list(
        db.session.scalars(
            select(Campaign.id).where(
                Campaign.state.in_([CampaignState.QUEUED, CampaignState.SENDING]),
                *_stale(Campaign, now),
            )
        )
    )
    for model, ids in ((Delivery, [r.id for r in rows]), (Campaign, campaign_ids)):
        for start in range(0, len(ids), 5000):
            db.session.execute(
                update(model)
                .where(model.id.in_(ids[start : start + 5000]))
                .values(enqueued_until=lease)
                .execution_options(synchronize_session=False)
            )
    enqueue_after_commit("delivery", [r.id for r in rows if r.campaign_id is None])
    enqueue_after_commit("delivery", [r.id for r in rows if r.campaign_id is not None], bulk=True)
    enqueue_after_commit("campaign", campaign_ids)
    return SweepResult(deliveries=len(rows), campaigns=len(campaign_ids))


def redis_available() -> bool:
    conn = queue_redis()
    if conn is None:
        return False
    try:
        return bool(conn.ping())
    except Exception:
        return False


def sweep(limit: int = SWEEP_LIMIT) -> SweepResult | None:
    """Queue what is due and not queued; None (and nothing touched) while Redis is down."""
    if not redis_available():
        return None
    return _queue_due(limit)


def deliver_due_inline(limit: int = SWEEP_LIMIT) -> dict[str, int]:
    """Without Redis (development): send what is due right here, in this process."""
    from notifications.campaigns import fan_out
    from notifications.delivery import deliver_many

    now = clock.now()
    for campaign_id in db.session.scalars(
        select(Campaign.id).where(
            Campaign.state.in_([CampaignState.QUEUED, CampaignState.SENDING]),
            *_stale(Campaign, now),
        )
    ).all():
        fan_out(campaign_id)
    ids = db.session.scalars(
        select(Delivery.id)
        .where(
            Delivery.state == DeliveryState.PENDING,
            Delivery.next_attempt_at <= clock.now(),
            or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < clock.now()),
        )
        .order_by(Delivery.id)
        .limit(limit)
    ).all()
    db.session.rollback()
    counts: dict[str, int] = {}
    for outcome in deliver_many(list(ids)).values():
        counts[outcome.value] = counts.get(outcome.value, 0) + 1
    return counts
