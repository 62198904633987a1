"""The documented commands: the worker, the sweeper (also without Redis) and what they print."""

from __future__ import annotations

from backend.extensions import db
from notifications.queue import get_queue
from tests.notifications.factories import create_wechat_user, deliveries_of
from tests.notifications.test_delivery import tell


def test_the_worker_command_sends_what_is_queued_and_stops_when_empty_in_burst_mode(
    runner, fake_wechat
):
    user = create_wechat_user(template="verification_progress")
    notification_id = tell(user.id)
    result = runner.invoke(args=["notifications-worker", "--burst"])
    assert result.exit_code == 0, result.output
    assert "sweep at start" in result.output
    assert deliveries_of(notification_id)["wechat"].state == "sent"
    assert len(fake_wechat.state.sent) == 1
    assert get_queue().count == 0


def test_the_sweep_command_reports_what_it_queued(runner):
    user = create_wechat_user(template="verification_progress")
    tell(user.id)
    result = runner.invoke(args=["notifications-sweep"])
    assert result.exit_code == 0
    assert "queued 0 deliveries, 0 campaigns" in result.output  # already in the queue


def test_without_redis_the_inline_sweep_delivers_in_process(make_app, fake_wechat):
    user_id = create_wechat_user(template="verification_progress").id
    embedded = make_app(REDIS_URL=None)
    with embedded.app_context():
        notification_id = tell(user_id)
        assert deliveries_of(notification_id)["wechat"].enqueued_until is None
        refused = embedded.test_cli_runner().invoke(args=["notifications-worker", "--burst"])
        assert refused.exit_code == 1 and "REDIS_URL is not set" in refused.output
        result = embedded.test_cli_runner().invoke(args=["notifications-sweep", "--inline"])
        assert result.exit_code == 0, result.output
        assert "'sent': 1" in result.output
        assert deliveries_of(notification_id)["wechat"].state == "sent"
        db.session.remove()
    assert len(fake_wechat.state.sent) == 1
