"""``flask`` commands: seed-demo, create-user."""

from __future__ import annotations

import click
from flask import Flask

from backend.errors import AppError


def register_cli(app: Flask) -> None:
    from backend import cli_codes
    from backend.cli_certificates import register_certificate_cli

    register_certificate_cli(app)
    cli_codes.register(app)

    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Create departments, certificate types and demo data (idempotent; not for production)."""
        from backend.services.seed import run_seed

        if app.config["ENV_NAME"] == "production":
            raise click.ClickException("seed-demo is for development and demos only")
        run_seed(echo=click.echo)

    @app.cli.command("create-user")
    @click.option("--username", required=True)
    @click.option("--role", required=True, help="e.g. department_officer, supervisor")
    @click.option("--display-name", required=True)
    @click.option("--department", default=None, help="department code, for officers")
    @click.option("--organisation", default=None, help="verifier organisation name, for members")
    @click.password_option()
    def create_user(username, role, display_name, department, organisation, password) -> None:
        """Create a real (non-demo) staff account."""
        from backend.services.accounts import create_user as create

        try:
            user = create(
                username=username,
                password=password,
                role=role,
                display_name=display_name,
                department_code=department,
                verifier_organisation=organisation,
            )
        except AppError as exc:
            raise click.ClickException(f"{exc.field or ''} {exc.message}".strip()) from exc
        click.echo(f"created user {user.username} ({user.role})")

    from backend.cli_verification import register_verification_cli

    register_verification_cli(app)
