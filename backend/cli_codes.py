"""``flask verify-offline-code``: check an offline code the way a counter without network does."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask


def register(app: Flask) -> None:
    @app.cli.command("verify-offline-code")
    @click.argument("code", required=False)
    @click.option(
        "--trust-list",
        "trust_list_path",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="saved JSON of GET /api/mp/v1/trust-list; without it, this database's keys",
    )
    def verify_offline_code(code: str | None, trust_list_path: Path | None) -> None:
        """Check CODE (or a code read from standard input); exit status 1 when rejected."""
        from backend.services.offline_codes import present_offline_code
        from backend.services.offline_verifier import (
            OfflineCodeRejected,
            TrustList,
            verify_offline_code,
        )

        text = code if code is not None else sys.stdin.read()
        if trust_list_path is not None:
            trust_list = TrustList.from_json(trust_list_path.read_bytes())
        else:
            from backend.services.seals import trust_list as current_trust_list

            trust_list = TrustList(current_trust_list())
        try:
            result = verify_offline_code(text, trust_list)
        except OfflineCodeRejected as exc:
            click.echo(
                json.dumps(
                    {"valid": False, "code": exc.code, "message": exc.message}, ensure_ascii=False
                )
            )
            sys.exit(1)
        click.echo(json.dumps(present_offline_code(result), ensure_ascii=False))
