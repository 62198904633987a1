"""``flask`` commands: the worker, the sweeper and the daily expiry reminders."""

from __future__ import annotations

import logging
import threading
from datetime import date

import click
from flask import Flask, current_app

log = logging.getLogger(__name__)


def _sweep_loop(app: Flask, interval: float, stop: threading.Event) -> None:
    from notifications.sweeper import sweep

    while not stop.wait(interval):
        with app.app_context():
            try:
                sweep()
            except Exception:  # keep sweeping: the database or Redis may be back next time
                log.exception("sweep failed")


def register_cli(app: Flask) -> None:
    @app.cli.command("notifications-worker")
    @click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
    @click.option("--sweep-interval", type=float, default=None, help="Seconds between sweeps.")
    def worker(burst: bool, sweep_interval: float | None) -> None:
        """Deliver notifications: an RQ worker on both queues, plus a periodic sweeper."""
        from rq import SimpleWorker

        from notifications.queue import get_queue
        from notifications.sweeper import sweep

        queues = [get_queue(bulk=False), get_queue(bulk=True)]
        if queues[0] is None:
            raise click.ClickException(
                "REDIS_URL is not set: use `flask notifications-sweep --inline`"
            )
        interval = sweep_interval or current_app.config["NOTIFY_SWEEP_INTERVAL_S"]
        stop = threading.Event()
        sweeper = threading.Thread(
            target=_sweep_loop,
            args=(current_app._get_current_object(), interval, stop),
            name="notifications-sweeper",
            daemon=True,
        )
        click.echo(f"sweep at start: {sweep()}")
        if not burst:
            sweeper.start()
        try:
            SimpleWorker(queues, connection=queues[0].connection).work(burst=burst)
        finally:
            stop.set()

    @app.cli.command("notifications-sweep")
    @click.option("--inline", is_flag=True, help="Send due deliveries here (no Redis needed).")
    def sweep_command(inline: bool) -> None:
        """Queue every pending delivery and campaign that is due but not queued (cron: every
        minute). Exits non-zero while Redis is unreachable."""
        from notifications.sweeper import deliver_due_inline, sweep

        if inline:
            click.echo(f"delivered: {deliver_due_inline()}")
            return
        result = sweep()
        if result is None:
            raise click.ClickException("Redis is unreachable: nothing queued, rows stay pending")
        click.echo(f"queued {result.deliveries} deliveries, {result.campaigns} campaigns")

    @app.cli.command("notifications-expiry-reminders")
    @click.option("--date", "on", default=None, help="Run as if today were YYYY-MM-DD.")
    def expiry_reminders(on: str | None) -> None:
        """Create today's certificate expiry reminders (30 and 7 days ahead; cron: daily)."""
        from notifications.reminders import schedule_expiry_reminders

        try:
            day = date.fromisoformat(on) if on else None
        except ValueError as exc:
            raise click.BadParameter("use YYYY-MM-DD", param_hint="--date") from exc
        created = schedule_expiry_reminders(day)
        click.echo(f"created {len(created)} reminder campaigns")
        for campaign in created:
            click.echo(f"  #{campaign.id} {campaign.title}: {campaign.audience_size} recipients")
