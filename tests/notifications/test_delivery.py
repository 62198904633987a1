"""Delivery: the outbox, the worker, retries, permanent failures and their fallbacks."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend.extensions import db
from backend.services.tx import transactional
from notifications.delivery import Outcome, claim, deliver
from notifications.models import Delivery, Notification, WeChatSubscription
from notifications.queue import get_queue
from notifications.service import notify
from notifications.sweeper import sweep
from tests.factories import create_user
from tests.notifications.factories import create_wechat_user, deliveries_of

SEND = ("POST", "/cgi-bin/message/subscribe/send")


@transactional
def tell(user_id: int, category: str = "verification_progress", **kwargs) -> int:
    """An event that notifies someone, committed the way every service commits."""
    return notify(user_id, category, "协查进度更新", "已受理", **kwargs)


def sends(fake_wechat) -> int:
    return fake_wechat.state.requests.count(SEND)


def test_a_notification_is_in_the_inbox_at_once_and_on_wechat_after_the_worker_runs(
    fake_wechat, run_worker
):
    user = create_wechat_user(template="verification_progress")
    notification_id = tell(user.id, data={"status": "已受理"})
    deliveries = deliveries_of(notification_id)
    assert deliveries["inbox"].state == "sent"
    assert deliveries["wechat"].state == "pending"

    run_worker()

    wechat = deliveries_of(notification_id)["wechat"]
    assert (wechat.state, wechat.attempts, wechat.external_id) == ("sent", 1, "1")
    [message] = fake_wechat.state.sent
    assert message["touser"] == user.wechat_openid
    assert message["template_id"] == "verification_progress"
    assert message["data"]["thing1"] == {"value": "协查进度更新"}
    assert message["data"]["phrase2"] == {"value": "已受理"}
    assert message["page"] == f"pages/notifications/index?id={notification_id}"


def test_a_rolled_back_event_leaves_no_notification_and_queues_nothing(fake_wechat, run_worker):
    user = create_wechat_user(template="verification_progress")

    @transactional
    def failing_event():
        notify(user.id, "verification_progress", "不会发出", "回滚")
        raise RuntimeError("the event failed")

    with pytest.raises(RuntimeError):
        failing_event()
    assert db.session.scalar(select(func.count(Notification.id))) == 0
    assert get_queue().count == 0
    subscription = db.session.scalars(select(WeChatSubscription)).one()
    assert subscription.one_time_remaining == 1  # the reservation was rolled back too


def test_a_wechat_message_is_delivered_once_after_two_server_errors(
    app, fake_wechat, run_worker, frozen_clock
):
    user = create_wechat_user(template="verification_progress")
    fake_wechat.script_sends(("http", 500), ("http", 502))
    notification_id = tell(user.id)

    run_worker()
    first = deliveries_of(notification_id)["wechat"]
    assert (first.state, first.attempts, first.last_error) == ("pending", 1, "http 500")
    assert first.next_attempt_at == frozen_clock.now() + timedelta(seconds=30)
    assert sweep().deliveries == 0  # not due yet

    frozen_clock.advance(timedelta(seconds=30))
    assert sweep().deliveries == 1
    run_worker()
    second = deliveries_of(notification_id)["wechat"]
    assert (second.state, second.attempts, second.last_error) == ("pending", 2, "http 502")
    assert second.next_attempt_at == frozen_clock.now() + timedelta(seconds=60)

    frozen_clock.advance(timedelta(seconds=60))
    sweep()
    run_worker()
    done = deliveries_of(notification_id)["wechat"]
    assert (done.state, done.attempts, done.last_error) == ("sent", 3, None)
    assert len(fake_wechat.state.sent) == 1

    # A duplicate job and another sweep find nothing left to send.
    assert deliver(done.id) is Outcome.SKIPPED
    assert sweep().deliveries == 0
    run_worker()
    assert sends(fake_wechat) == 3 and len(fake_wechat.state.sent) == 1


def test_no_subscription_left_is_not_retried_and_falls_back_to_sms(fake_wechat, run_worker, caplog):
    user = create_wechat_user(template="verification_progress", one_time=2)
    fake_wechat.script_sends(("errcode", 43101))
    notification_id = tell(user.id)

    with caplog.at_level(logging.INFO, logger="notifications.channels.sms"):
        run_worker()

    deliveries = deliveries_of(notification_id)
    wechat, sms = deliveries["wechat"], deliveries["sms"]
    assert (wechat.state, wechat.attempts) == ("failed", 1)
    assert wechat.last_error.startswith("errcode 43101") and "fallback: sms" in wechat.last_error
    assert (sms.state, sms.attempts) == ("sent", 1)
    assert sends(fake_wechat) == 1
    sms_lines = [r.getMessage() for r in caplog.records if r.name.endswith("sms")]
    assert len(sms_lines) == 1 and "138****0000" in sms_lines[0]
    assert "13800000000" not in sms_lines[0]
    subscription = db.session.scalars(select(WeChatSubscription)).one()
    db.session.refresh(subscription)
    assert subscription.one_time_remaining == 0  # WeChat said none are left


def test_without_a_phone_the_inbox_is_the_fallback(fake_wechat, run_worker):
    user = create_wechat_user(template="verification_progress", phone=False)
    fake_wechat.script_sends(("errcode", 43101))
    notification_id = tell(user.id)
    run_worker()
    deliveries = deliveries_of(notification_id)
    assert set(deliveries) == {"inbox", "wechat"}
    assert deliveries["wechat"].state == "failed"
    assert deliveries["wechat"].last_error.endswith("fallback: inbox")
    assert deliveries["inbox"].state == "sent"


def test_a_quota_error_45009_is_retried(fake_wechat, run_worker, frozen_clock):
    user = create_wechat_user(template="verification_progress")
    fake_wechat.script_sends(("errcode", 45009))
    notification_id = tell(user.id)
    run_worker()
    assert deliveries_of(notification_id)["wechat"].state == "pending"
    frozen_clock.advance(timedelta(seconds=30))
    sweep()
    run_worker()
    assert deliveries_of(notification_id)["wechat"].state == "sent"


def test_network_errors_are_retried(make_app, fake_wechat):
    user = create_wechat_user(template="verification_progress")
    notification_id = tell(user.id)
    delivery_id = deliveries_of(notification_id)["wechat"].id
    unreachable = make_app(WECHAT_API_BASE_URL="http://127.0.0.1:9/", WECHAT_TIMEOUT_S=1)
    with unreachable.app_context():
        assert deliver(delivery_id) is Outcome.RETRY
        delivery = db.session.get(Delivery, delivery_id)
        assert delivery.state == "pending"
        assert delivery.last_error.startswith("network: ")
        db.session.remove()


def test_after_the_last_attempt_a_delivery_fails_falls_back_and_returns_the_subscription(
    app, fake_wechat, run_worker, frozen_clock
):
    user = create_wechat_user(template="verification_progress", one_time=1)
    fake_wechat.script_sends(*[("http", 503)] * 5)
    notification_id = tell(user.id)
    for _ in range(5):
        run_worker()
        frozen_clock.advance(timedelta(seconds=app.config["NOTIFY_BACKOFF_MAX_S"]))
        sweep()
    deliveries = deliveries_of(notification_id)
    assert (deliveries["wechat"].state, deliveries["wechat"].attempts) == ("failed", 5)
    assert deliveries["sms"].state == "sent"
    assert sends(fake_wechat) == 5
    subscription = db.session.scalars(select(WeChatSubscription)).one()
    db.session.refresh(subscription)
    assert subscription.one_time_remaining == 1  # never used, so given back


def test_one_acceptance_reaches_one_message_only(fake_wechat, run_worker):
    user = create_wechat_user(template="verification_progress", one_time=1)
    first, second = tell(user.id), tell(user.id)
    assert "wechat" in deliveries_of(first)
    assert set(deliveries_of(second)) == {"inbox"}
    run_worker()
    assert len(fake_wechat.state.sent) == 1


def test_long_term_subscriptions_are_not_used_up(fake_wechat, run_worker):
    user = create_wechat_user(template="certificate_used", long_term=True, one_time=0)
    for _ in range(3):
        tell(user.id, "certificate_used", data={"certificate": "居民身份证", "verifier": "宾馆"})
    run_worker()
    assert len(fake_wechat.state.sent) == 3
    assert fake_wechat.state.sent[0]["data"]["thing1"] == {"value": "居民身份证"}


def test_users_without_an_openid_get_the_inbox_only(fake_wechat):
    user = create_user()
    notification_id = tell(user.id)
    assert set(deliveries_of(notification_id)) == {"inbox"}


def test_of_two_workers_claiming_one_delivery_exactly_one_wins(app):
    user = create_wechat_user(template="verification_progress")
    delivery_id = deliveries_of(tell(user.id))["wechat"].id
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def worker() -> None:
        with app.app_context():
            barrier.wait()
            results.append(claim([delivery_id]))
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [[], [delivery_id]]
    assert db.session.get(Delivery, delivery_id).attempts == 1


def test_a_sent_delivery_is_never_claimed_again(fake_wechat):
    user = create_wechat_user(template="verification_progress")
    delivery_id = deliveries_of(tell(user.id))["wechat"].id
    assert deliver(delivery_id) is Outcome.SENT
    assert claim([delivery_id]) == []
    assert deliver(delivery_id) is Outcome.SKIPPED
    assert len(fake_wechat.state.sent) == 1


def test_the_verification_domains_category_uses_the_verification_template(fake_wechat, run_worker):
    user = create_wechat_user(template="verification_progress")
    tell(user.id, "verification", link="/verification-requests/42")
    run_worker()
    [message] = fake_wechat.state.sent
    assert message["template_id"] == "verification_progress"
    assert message["page"].startswith("pages/notifications/index?id=")  # a web path is no page
