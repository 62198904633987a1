"""Nothing is lost when Redis goes away: rows stay pending and the sweeper queues them later."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rq import SimpleWorker
from sqlalchemy import select

from backend.extensions import db
from notifications.models import Delivery
from notifications.queue import get_queue
from notifications.sweeper import sweep
from tests.notifications.factories import create_wechat_user
from tests.notifications.test_delivery import tell


@pytest.fixture
def app_on_throwaway_redis(make_app, throwaway_redis):
    app = make_app(REDIS_URL=throwaway_redis.url)
    yield app
    conn = app.extensions.pop("notifications_redis", None)
    if conn is not None:
        conn.close()
    app.extensions["token_store"].client.close()


def _work(app) -> None:
    with app.app_context():
        queues = [get_queue(bulk=False), get_queue(bulk=True)]
        SimpleWorker(queues, connection=queues[0].connection).work(burst=True)
        db.session.remove()


def test_notifications_created_while_redis_is_down_are_delivered_after_it_returns(
    app_on_throwaway_redis, throwaway_redis, fake_wechat
):
    app = app_on_throwaway_redis
    users = [create_wechat_user(template="verification_progress") for _ in range(3)]
    # Ids and openids read here: the other app's context must not touch this session.
    user_ids, openids = [u.id for u in users], sorted(u.wechat_openid for u in users)
    throwaway_redis.stop()

    with app.app_context():
        ids = [tell(user_id) for user_id in user_ids]  # the events still commit
        pending = db.session.scalars(select(Delivery).where(Delivery.channel == "wechat")).all()
        assert [(d.state, d.enqueued_until) for d in pending] == [("pending", None)] * 3
        assert sweep() is None  # nothing to do while Redis is away
        result = app.test_cli_runner().invoke(args=["notifications-sweep"])
        assert result.exit_code == 1 and "Redis is unreachable" in result.output
        db.session.remove()
    assert len(ids) == 3 and fake_wechat.state.sent == []

    throwaway_redis.start()
    with app.app_context():
        assert sweep().deliveries == 3
        db.session.remove()
    _work(app)

    states = db.session.scalars(
        select(Delivery.state)
        .where(Delivery.channel == "wechat")
        .execution_options(populate_existing=True)
    ).all()
    assert states == ["sent"] * 3
    assert sorted(m["touser"] for m in fake_wechat.state.sent) == openids


def test_jobs_lost_with_a_redis_restart_are_queued_again_when_their_lease_runs_out(
    app_on_throwaway_redis, throwaway_redis, fake_wechat, frozen_clock
):
    app = app_on_throwaway_redis
    user_id = create_wechat_user(template="verification_progress").id
    with app.app_context():
        tell(user_id)
        assert get_queue().count == 1
        db.session.remove()
    throwaway_redis.stop()  # no persistence: the queued job is gone
    throwaway_redis.start()
    with app.app_context():
        assert get_queue().count == 0
        assert sweep().deliveries == 0  # its lease still holds
        frozen_clock.advance(timedelta(seconds=app.config["NOTIFY_QUEUE_LEASE_S"] + 1))
        assert sweep().deliveries == 1
        db.session.remove()
    _work(app)
    assert len(fake_wechat.state.sent) == 1
