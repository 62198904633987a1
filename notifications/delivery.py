"""Sending one delivery: claim it, send it once, record the outcome, retry or fall back.

A delivery is claimed with one conditional UPDATE (pending, due, not claimed by a live
worker) before anything is sent, and marked sent right after. Two workers holding the same
id, a job queued twice, or a sweeper re-enqueueing a slow job therefore never send twice
once a send has succeeded. (A worker dying between WeChat's "ok" and our commit is the one
window left; the claim lease then lets it be retried, and that is documented.)
"""

from __future__ import annotations

import enum
import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from backend import clock
from backend.extensions import db
from backend.services.tx import transactional
from notifications.channels import CHANNELS, DeliveryError, PermanentError, RetryableError
from notifications.models import Delivery, DeliveryState, Notification
from notifications.outbox import create_fallback
from notifications.queue import enqueue_after_commit, queued_until
from notifications.templates import Message, template_for

log = logging.getLogger(__name__)


class Outcome(enum.StrEnum):
    SENT = "sent"
    RETRY = "retry"  # failed, will be tried again after the backoff
    FAILED = "failed"  # failed for good; fallback channels were written
    SKIPPED = "skipped"  # not ours to send: already sent, failed, claimed or not yet due


def backoff_s(attempts: int) -> int:
    """Seconds before the next try after ``attempts`` tries: base, 2×base, 4×base... capped."""
    base = current_app.config["NOTIFY_BACKOFF_BASE_S"]
    return min(base * 2 ** max(attempts - 1, 0), current_app.config["NOTIFY_BACKOFF_MAX_S"])


@transactional
def claim(delivery_id: int) -> bool:
    """Take a due pending delivery for one send attempt; of two callers at most one wins."""
    now = clock.now()
    lease = now + timedelta(seconds=current_app.config["NOTIFY_CLAIM_LEASE_S"])
    result = db.session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.state == DeliveryState.PENDING,
            Delivery.next_attempt_at <= now,
            or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now),
        )
        .values(claimed_until=lease, attempts=Delivery.attempts + 1, enqueued_until=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def load_message(delivery_id: int) -> tuple[str, Message]:
    row = db.session.execute(
        select(Delivery.channel, Notification)
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(Delivery.id == delivery_id)
    ).one()
    channel, n = row
    data = dict(n.campaign.data or {}) if n.campaign_id else {}
    data.update(n.data or {})
    message = Message(
        notification_id=n.id,
        user_id=n.user_id,
        category=n.category,
        title=n.title,
        body=n.body,
        link=n.link,
        created_at=n.created_at,
        data=data,
    )
    return channel, message


@transactional
def _mark_sent(delivery_id: int, external_id: str | None) -> None:
    db.session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.state == DeliveryState.PENDING)
        .values(
            state=DeliveryState.SENT,
            sent_at=clock.now(),
            claimed_until=None,
            last_error=None,
            external_id=external_id,
        )
        .execution_options(synchronize_session=False)
    )


@transactional
def _record_failure(delivery_id: int, channel_name: str, message: Message, error) -> Outcome:
    delivery = db.session.get(Delivery, delivery_id, populate_existing=True)
    delivery.claimed_until = None
    delivery.last_error = error.reason
    retry = not isinstance(error, PermanentError)
    if retry and delivery.attempts < current_app.config["NOTIFY_MAX_ATTEMPTS"]:
        delivery.next_attempt_at = clock.now() + timedelta(seconds=backoff_s(delivery.attempts))
        if delivery.next_attempt_at <= clock.now():  # no backoff configured: queue it now
            delivery.enqueued_until = queued_until()
            enqueue_after_commit("delivery", [delivery_id])
        # otherwise the sweeper queues it when it is due
        return Outcome.RETRY
    delivery.state = DeliveryState.FAILED
    template = template_for(message.category)
    CHANNELS[channel_name].gave_up(message, template, error)
    fallbacks = create_fallback(
        message.notification_id, message.user_id, message.category, channel_name
    )
    delivery.last_error = f"{error.reason[:250]}; fallback: {', '.join(fallbacks) or 'inbox'}"
    log.info("delivery %s failed for good (%s)", delivery_id, delivery.last_error)
    return Outcome.FAILED


def deliver(delivery_id: int) -> Outcome:
    """Send one delivery if it is ours to send; record what happened."""
    if not claim(delivery_id):
        return Outcome.SKIPPED
    channel_name, message = load_message(delivery_id)
    channel = CHANNELS[channel_name]
    try:
        external_id = channel.send(message)
    except DeliveryError as error:
        db.session.rollback()
        return _record_failure(delivery_id, channel_name, message, error)
    except Exception as exc:  # a bug must not retry forever: count it as an attempt
        db.session.rollback()
        log.exception("delivery %s raised", delivery_id)
        error = RetryableError(f"internal: {type(exc).__name__}")
        return _record_failure(delivery_id, channel_name, message, error)
    _mark_sent(delivery_id, external_id)
    return Outcome.SENT
