"""Structured JSON logs; every line of a request carries its request id."""

from __future__ import annotations

import logging
import re
import sys
import uuid

from flask import Flask, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# Path arguments that are credentials: a live code's token lets any verifier redeem it until
# it expires (``/codes/<token>``, ``/c/<token>``), so its value never reaches a log line.
_SECRET_PATH_ARGS = ("token",)
REDACTED = "[redacted]"


def loggable_path() -> str:
    """The request's path with secret path arguments replaced by ``[redacted]``."""
    path = request.path
    args = request.view_args
    if args:
        for name in _SECRET_PATH_ARGS:
            value = args.get(name)
            if value:
                path = path.replace(str(value), REDACTED)
    return path


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def configure_logging(app: Flask) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"levelname": "level", "asctime": "time"},
            json_ensure_ascii=False,
        )
    )
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        root.addHandler(handler)
    root.setLevel(logging.INFO if not app.testing else logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    @app.before_request
    def assign_request_id():
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex

    @app.after_request
    def echo_request_id(response):
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "-")
        if app.config["ACCESS_LOG"]:
            logging.getLogger("access").info(
                "%s %s %s", request.method, loggable_path(), response.status_code
            )
        return response
