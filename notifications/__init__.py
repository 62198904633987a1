"""Notification delivery: an outbox written in the event's own transaction, delivered later.

Other domains call :func:`notifications.service.notify`; they never talk to a channel.
See docs/notifications.md.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the push endpoint, the worker commands and the enqueue-after-commit hook."""
    import notifications.queue  # noqa: F401  (session events)
    from backend.extensions import csrf
    from notifications.cli import register_cli
    from notifications.push import bp

    csrf.exempt(bp)  # WeChat signs its calls; it has no session or CSRF token
    app.register_blueprint(bp)
    register_cli(app)
