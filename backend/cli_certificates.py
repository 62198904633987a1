"""``flask import-certificates``, ``flask verify-certificate``, ``flask reseal-certificates``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from sqlalchemy import select
from tqdm import tqdm

from backend.errors import AppError
from backend.extensions import db
from backend.models import Certificate

# The command line is run by an administrator on the server: larger limits than uploads.
CLI_MAX_BYTES = 512 * 1024 * 1024
CLI_MAX_ROWS = 1_000_000


def _describe(error: AppError) -> str:
    lines = [f"{error.code}: {error.message}"]
    for detail in error.details or []:
        where = f"row {detail['row']} " if "row" in detail else ""
        lines.append(f"  {where}{detail.get('field', '')}: {detail['code']} {detail['message']}")
    return "\n".join(lines)


def register_certificate_cli(app: Flask) -> None:
    @app.cli.command("import-certificates")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--type", "type_code", required=True, help="certificate type code")
    @click.option("--skip-bad-rows", is_flag=True, help="import the good rows, report the bad")
    def import_certificates(file: Path, type_code: str, skip_bad_rows: bool) -> None:
        """Import historic certificates of one type from a UTF-8 CSV file."""
        from backend.services.certificate_imports import import_certificates as run

        raw = file.read_bytes()
        bars: dict[str, tqdm] = {}
        labels = {"check": "checking rows", "seal": "sealing and storing"}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in bars:
                for bar in bars.values():
                    bar.close()
                bars[stage] = tqdm(total=total, desc=labels.get(stage, stage), unit="row")
            bars[stage].update(done)

        try:
            record = run(
                cert_type=type_code,
                raw=raw,
                filename=file.name,
                skip_bad_rows=skip_bad_rows,
                max_bytes=CLI_MAX_BYTES,
                max_rows=CLI_MAX_ROWS,
                progress=progress,
            )
        except AppError as exc:
            raise click.ClickException(_describe(exc)) from exc
        finally:
            for bar in bars.values():
                bar.close()
        click.echo(
            f"import {record.id}: {record.rows_total} rows, {record.imported} imported, "
            f"{record.already_imported} already imported, {record.expired} expired (not "
            f"imported), {record.skipped_bad} bad rows skipped"
        )
        for problem in record.report.get("skipped", []):
            click.echo(
                f"  row {problem['row']} {problem['field']}: {problem['code']} {problem['message']}"
            )
        for row in record.report.get("expired", []):
            click.echo(f"  row {row['row']}: expired on {row['expires_on']}, not imported")

    @app.cli.command("verify-certificate")
    @click.argument("certificate")
    def verify_certificate(certificate: str) -> None:
        """Re-check a stored certificate (id or serial) against the trust list."""
        from backend.services.certificate_store import effective_status
        from backend.services.certificate_store import verify_certificate as check

        query = select(Certificate).where(
            Certificate.id == int(certificate)
            if certificate.isdigit()
            else Certificate.serial == certificate
        )
        found = db.session.scalar(query)
        if found is None:
            raise click.ClickException(f"certificate {certificate} not found")
        result = check(found)
        for seal in result.seals:
            click.echo(f"seal {seal.key_id}: {seal.reason}")
        click.echo(f"certificate {found.serial}: status {effective_status(found)}")
        if not result.ok:
            raise click.ClickException(f"verification FAILED: {result.reason}")
        click.echo("verification ok: every seal verifies over the stored canonical bytes")

    @app.cli.command("reseal-certificates")
    @click.option("--key-id", required=True, help="the revoked (or retired) seal key")
    @click.option("--batch-size", default=500, show_default=True, help="seals per transaction")
    def reseal_certificates(key_id: str, batch_size: int) -> None:
        """Re-seal every still-valid certificate sealed with KEY_ID with the current key."""
        from backend.services.certificate_reseal import reseal_certificates as run

        def progress(report) -> None:
            click.echo(f"  {report.resealed} re-sealed so far")

        try:
            report = run(key_id, batch_size=batch_size, progress=progress)
        except AppError as exc:
            raise click.ClickException(_describe(exc)) from exc
        click.echo(f"key {key_id}: {report.resealed} certificates re-sealed")
        if report.unreadable:
            ids = ", ".join(str(i) for i in report.unreadable)
            raise click.ClickException(f"payload unreadable, not re-sealed: certificates {ids}")
