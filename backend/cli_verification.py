"""``flask verification-sweep``: flag overdue verification requests, remind, escalate."""

from __future__ import annotations

import click
from flask import Flask


def register_verification_cli(app: Flask) -> None:
    @app.cli.command("verification-sweep")
    def verification_sweep() -> None:
        """Flag overdue requests, remind responders, escalate to the supervisor (run from cron)."""
        from backend.services.verification_sweep import sweep_overdue

        report = sweep_overdue()
        click.echo(
            f"overdue flagged: {len(report.flagged)}, reminders: {len(report.reminded)}, "
            f"due soon: {len(report.due_soon)}"
        )
