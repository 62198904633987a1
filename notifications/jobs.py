"""RQ job entry points. They carry ids only and run inside the Flask app's context."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from flask import Flask, has_app_context

from backend.extensions import db

_app: Flask | None = None


@contextlib.contextmanager
def app_context() -> Iterator[None]:
    """The running app's context (``flask notifications-worker``), or one built on demand
    for a plain ``rq worker`` started with the same environment."""
    global _app
    if has_app_context():
        yield
        return
    if _app is None:
        from backend import create_app

        _app = create_app()
    with _app.app_context():
        yield


def deliver_batch(delivery_ids: list[int]) -> dict[str, int]:
    """Deliver each id; one failing never stops the others. Returns counts per outcome."""
    from notifications.delivery import deliver_many

    counts: dict[str, int] = {}
    with app_context():
        try:
            for outcome in deliver_many(delivery_ids).values():
                counts[outcome.value] = counts.get(outcome.value, 0) + 1
        finally:
            db.session.rollback()
    return counts


def fan_out_campaign(campaign_id: int) -> int:
    """Write a campaign's notifications and queue their deliveries, batch by batch."""
    from notifications.campaigns import fan_out

    with app_context():
        try:
            return fan_out(campaign_id)
        finally:
            db.session.rollback()
