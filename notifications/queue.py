"""The job queue on Redis (RQ). Only ids travel through it; the database holds the work.

Two queues: ``notifications`` for what one event causes (a code was scanned, a request was
answered) and ``notifications-bulk`` for campaigns, which workers take only when the first
is empty, so a 100,000-person notice never delays someone's usage alert.

Rows are enqueued after their transaction commits (``enqueue_after_commit``). When Redis is
down the rows are marked not queued and stay pending; the sweeper enqueues them later.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

import redis
from flask import current_app
from rq import Queue
from sqlalchemy import event, update
from sqlalchemy.orm import Session

from backend import clock
from backend.extensions import db
from notifications.models import Campaign, Delivery

log = logging.getLogger(__name__)

QUEUE = "notifications"
BULK_QUEUE = "notifications-bulk"
FANOUT_JOB_TIMEOUT_S = 3600
ENQUEUE_PIPELINE_JOBS = 500
_PENDING = "notifications.enqueue"  # session.info key: work to enqueue after commit


def queue_redis() -> redis.Redis | None:
    """The RQ connection (raw bytes, as RQ needs), or None without ``REDIS_URL``."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    conn = current_app.extensions.get("notifications_redis")
    if conn is None:
        conn = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=1)
        current_app.extensions["notifications_redis"] = conn
    return conn


def get_queue(bulk: bool = False) -> Queue | None:
    conn = queue_redis()
    return None if conn is None else Queue(BULK_QUEUE if bulk else QUEUE, connection=conn)


def queued_until():
    """How long a freshly enqueued job is trusted to be in Redis; None when there is no queue."""
    if not current_app.config.get("REDIS_URL"):
        return None
    return clock.now() + timedelta(seconds=current_app.config["NOTIFY_QUEUE_LEASE_S"])


def _chunks(ids: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def enqueue_deliveries(ids: list[int], bulk: bool) -> bool:
    """Put delivery jobs (chunks of ids) on the queue; on failure mark the rows not queued."""
    from notifications.jobs import deliver_batch

    queue = get_queue(bulk)
    if not ids or queue is None:  # without Redis the rows were written as not queued
        return queue is not None
    chunk = current_app.config["NOTIFY_JOB_CHUNK"]
    timeout = int(chunk * (current_app.config["WECHAT_TIMEOUT_S"] * 2 + 1)) + 60
    try:
        jobs = [
            Queue.prepare_data(deliver_batch, args=(part,), timeout=timeout, result_ttl=0)
            for part in _chunks(ids, chunk)
        ]
        for part in _chunks(jobs, ENQUEUE_PIPELINE_JOBS):
            queue.enqueue_many(part)
        return True
    except redis.RedisError as exc:
        log.warning("queue unavailable, %d deliveries left for the sweeper: %s", len(ids), exc)
        _mark_not_queued(Delivery, ids)
        return False


def enqueue_campaign(campaign_id: int) -> bool:
    """Queue the fan-out job of a campaign; on failure the sweeper will."""
    from notifications.jobs import fan_out_campaign

    queue = get_queue(bulk=True)
    if queue is None:
        return False
    try:
        queue.enqueue(fan_out_campaign, campaign_id, job_timeout=FANOUT_JOB_TIMEOUT_S, result_ttl=0)
        return True
    except redis.RedisError as exc:
        log.warning("queue unavailable, campaign %s left for the sweeper: %s", campaign_id, exc)
        _mark_not_queued(Campaign, [campaign_id])
        return False


def _mark_not_queued(model, ids: list[int]) -> None:
    """Clear ``enqueued_until`` in a transaction of its own (we run after a commit)."""
    try:
        with db.engine.begin() as conn:
            for part in _chunks(ids, 5000):
                conn.execute(
                    update(model.__table__)
                    .where(model.__table__.c.id.in_(part))
                    .values(enqueued_until=None)
                )
    except Exception:  # the lease runs out instead; the sweeper still finds them
        log.exception("could not mark %d %s rows as not queued", len(ids), model.__name__)


def enqueue_after_commit(kind: str, ids: list[int], bulk: bool = False) -> None:
    """Enqueue ``ids`` (``delivery`` or ``campaign``) once the current transaction commits."""
    if ids:
        db.session.info.setdefault(_PENDING, []).append((kind, list(ids), bulk))


@event.listens_for(Session, "after_commit")
def _enqueue_committed(session: Session) -> None:
    enqueue_committed(session.info.pop(_PENDING, None) or ())


def enqueue_committed(pending) -> None:
    """Enqueue ``(kind, ids, bulk)`` entries whose transaction has committed (the session's,
    or a hot path's own on the driver connection)."""
    for kind, ids, bulk in pending:
        try:
            if kind == "campaign":
                for campaign_id in ids:
                    enqueue_campaign(campaign_id)
            else:
                enqueue_deliveries(ids, bulk)
        except Exception:  # the event has committed: never fail its caller; the sweeper retries
            log.exception("enqueueing %s %s failed", kind, ids[:10])


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)
