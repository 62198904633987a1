"""Sending deliveries: claim them, send each once, record the outcome, retry or fall back.

Deliveries are claimed with one conditional ``UPDATE ... RETURNING`` (pending, due, not
claimed by a live worker) before anything is sent, a few at a time, and each is marked sent
in its own commit right after its send. Two workers holding the same ids, a job queued twice,
or a sweeper re-enqueueing a slow job therefore never send twice once a send has succeeded.
(A worker dying between WeChat's "ok" and our commit is the one window left; when its claim
lease runs out that message is sent again. docs/notifications.md says so.)
"""

from __future__ import annotations

import enum
import logging
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import nullcontext
from datetime import timedelta

from flask import Flask, current_app
from sqlalchemy import or_, select, update

from backend import clock
from backend.extensions import db
from backend.models import User
from backend.services.tx import transactional
from notifications.channels import CHANNELS, DeliveryError, PermanentError, RetryableError
from notifications.models import Campaign, Delivery, DeliveryState, Notification
from notifications.outbox import create_fallback
from notifications.queue import enqueue_after_commit, queued_until
from notifications.templates import Message, template_for

log = logging.getLogger(__name__)

# Claimed together; the claim lease (NOTIFY_CLAIM_LEASE_S) must cover this many sends.
CLAIM_GROUP = 10


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
def claim(delivery_ids: list[int]) -> list[int]:
    """Take the due pending deliveries among ``delivery_ids`` for one send attempt each.

    Of two callers claiming the same delivery at most one gets it.
    """
    now = clock.now()
    lease = now + timedelta(seconds=current_app.config["NOTIFY_CLAIM_LEASE_S"])
    return list(
        db.session.scalars(
            update(Delivery)
            .where(
                Delivery.id.in_(delivery_ids),
                Delivery.state == DeliveryState.PENDING,
                Delivery.next_attempt_at <= now,
                or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now),
            )
            .values(claimed_until=lease, attempts=Delivery.attempts + 1, enqueued_until=None)
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)
        )
    )


def load_messages(delivery_ids: list[int]) -> dict[int, tuple[str, Message]]:
    """What to send for each delivery, read in one query."""
    rows = db.session.execute(
        select(Delivery.id, Delivery.channel, Notification, User.wechat_openid, Campaign.data)
        .join(Notification, Notification.id == Delivery.notification_id)
        .join(User, User.id == Notification.user_id)
        .outerjoin(Campaign, Campaign.id == Notification.campaign_id)
        .where(Delivery.id.in_(delivery_ids))
    ).all()
    messages = {}
    for delivery_id, channel, n, openid, campaign_data in rows:
        messages[delivery_id] = (
            channel,
            Message(
                notification_id=n.id,
                user_id=n.user_id,
                category=n.category,
                title=n.title,
                body=n.body,
                link=n.link,
                created_at=n.created_at,
                data={**(campaign_data or {}), **(n.data or {})},
                openid=openid,
            ),
        )
    return messages


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
    CHANNELS[channel_name].gave_up(message, template_for(message.category), error)
    fallbacks = create_fallback(message.notification_id, message.category, channel_name)
    delivery.last_error = f"{error.reason[:250]}; fallback: {', '.join(fallbacks) or 'inbox'}"
    log.info("delivery %s failed for good (%s)", delivery_id, delivery.last_error)
    return Outcome.FAILED


Attempt = tuple[str | None, DeliveryError | None]  # (provider message id, error)


def _attempt(channel_name: str, message: Message) -> Attempt:
    """Send once through the channel; failures are returned, never raised."""
    try:
        return CHANNELS[channel_name].send(message), None
    except DeliveryError as error:
        return None, error
    except Exception as exc:  # a bug must not retry forever: it counts as an attempt
        log.exception("sending notification %s raised", message.notification_id)
        return None, RetryableError(f"internal: {type(exc).__name__}")


def _attempt_in_thread(app: Flask, channel_name: str, message: Message) -> Attempt:
    with app.app_context():
        return _attempt(channel_name, message)


def _record(delivery_id: int, channel_name: str, message: Message, attempt: Attempt) -> Outcome:
    external_id, error = attempt
    if error is None:
        _mark_sent(delivery_id, external_id)
        return Outcome.SENT
    db.session.rollback()
    return _record_failure(delivery_id, channel_name, message, error)


def deliver_many(delivery_ids: list[int]) -> dict[int, Outcome]:
    """Send each delivery that is ours to send; record what happened to every id.

    A claimed group is sent on up to ``NOTIFY_SEND_THREADS`` threads (a send mostly waits on
    WeChat); outcomes are written here, each as soon as its send returns.
    """
    outcomes = {delivery_id: Outcome.SKIPPED for delivery_id in delivery_ids}
    threads = current_app.config["NOTIFY_SEND_THREADS"]
    app = current_app._get_current_object()
    with ThreadPoolExecutor(max_workers=threads) if threads > 1 else nullcontext() as pool:
        for start in range(0, len(delivery_ids), CLAIM_GROUP):
            claimed = sorted(claim(delivery_ids[start : start + CLAIM_GROUP]))
            if not claimed:
                continue
            messages = load_messages(claimed)
            db.session.rollback()  # no transaction stays open while we wait on the network
            if pool is None:
                for delivery_id in claimed:
                    attempt = _attempt(*messages[delivery_id])
                    outcomes[delivery_id] = _record(delivery_id, *messages[delivery_id], attempt)
                continue
            futures = {
                pool.submit(_attempt_in_thread, app, *messages[delivery_id]): delivery_id
                for delivery_id in claimed
            }
            for future in as_completed(futures):
                delivery_id = futures[future]
                outcomes[delivery_id] = _record(
                    delivery_id, *messages[delivery_id], future.result()
                )
    return outcomes


def deliver(delivery_id: int) -> Outcome:
    """Send one delivery if it is ours to send."""
    return deliver_many([delivery_id])[delivery_id]
