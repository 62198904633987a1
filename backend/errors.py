"""One error envelope for the whole platform.

Services raise ``AppError`` subclasses; ``register_errors`` turns every failure, ours or
the caller's, into ``{"error": {"code", "message", ...}}`` on the API and an HTML page on
the web app. The last handler hides internals: no stack trace ever reaches a caller.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class AppError(Exception):
    """A failure with a stable machine code, a Chinese message and an HTTP status."""

    status_code = 400
    code = "bad_request"
    message = "请求有误"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        field: str | None = None,
        details: list[dict[str, Any]] | None = None,
        status_code: int | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        if code:
            self.code = code
        if status_code:
            self.status_code = status_code
        self.field = field
        self.details = details
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        if self.details:
            body["details"] = self.details
        body.update(self.extra)
        return {"error": body}


class ValidationFailed(AppError):
    status_code = 400
    code = "invalid_request"
    message = "请求参数有误"


class UnprocessableEntity(AppError):
    status_code = 422
    code = "unprocessable"
    message = "数据未通过校验"


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"
    message = "请先登录"


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"
    message = "无权执行此操作"


class NotFound(AppError):
    status_code = 404
    code = "not_found"
    message = "资源不存在"


class Conflict(AppError):
    status_code = 409
    code = "conflict"
    message = "当前状态不允许此操作"


class Gone(AppError):
    status_code = 410
    code = "gone"
    message = "资源已失效"


class RateLimited(AppError):
    status_code = 429
    code = "rate_limited"
    message = "操作过于频繁,请稍后再试"


class ServiceUnavailable(AppError):
    status_code = 503
    code = "service_unavailable"
    message = "服务暂时不可用,请稍后再试"


class DatabaseUnavailable(ServiceUnavailable):
    code = "database_unavailable"
    message = "数据库暂时不可用,请稍后再试"


class TokenStoreUnavailable(ServiceUnavailable):
    code = "token_store_unavailable"
    message = "令牌服务暂时不可用,请稍后再试"


HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "请求有误"),
    401: ("unauthorized", "请先登录"),
    403: ("forbidden", "无权执行此操作"),
    404: ("not_found", "资源不存在"),
    405: ("method_not_allowed", "不支持该请求方法"),
    408: ("request_timeout", "请求超时"),
    409: ("conflict", "当前状态不允许此操作"),
    413: ("payload_too_large", "上传内容过大"),
    415: ("unsupported_media_type", "不支持的内容类型,请使用 application/json"),
    422: ("unprocessable", "数据未通过校验"),
    429: ("rate_limited", "操作过于频繁,请稍后再试"),
    500: ("internal_error", "服务器内部错误,请稍后再试"),
    503: ("service_unavailable", "服务暂时不可用,请稍后再试"),
}

JSON_PREFIXES = ("/api/", "/healthz", "/wechat/")


def wants_json() -> bool:
    """API paths answer JSON; web pages answer HTML unless the client asks for JSON."""
    if request.path.startswith(JSON_PREFIXES):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def _respond(error: AppError):
    if wants_json():
        response = jsonify(error.to_dict())
    else:
        response = render_template("error.html", error=error), error.status_code
        return response
    response.status_code = error.status_code
    return response


def http_error(status: int) -> AppError:
    code, message = HTTP_CODES.get(status, ("http_error", "请求失败"))
    return AppError(message, code=code, status_code=status)


def refused_nul(error: DBAPIError) -> bool:
    """PostgreSQL refusing a NUL: psycopg's check on text parameters, or the server's on a
    ``\\u0000`` in jsonb (SQLSTATE 22P05, untranslatable character)."""
    if not isinstance(error, DataError):
        return False
    orig = error.orig
    return getattr(orig, "sqlstate", None) == "22P05" or "NUL (0x00)" in str(orig)


def register_errors(app: Flask) -> None:
    @app.errorhandler(AppError)
    def handle_app_error(error: AppError):
        from backend.extensions import db

        db.session.rollback()
        if error.status_code >= 500:
            log.warning("service error %s: %s", error.code, error.message)
        return _respond(error)

    @app.errorhandler(CSRFError)
    def handle_csrf(error: CSRFError):
        return _respond(AppError("页面已过期或请求来源不可信,请刷新后重试", code="csrf_failed"))

    @app.errorhandler(HTTPException)
    def handle_http(error: HTTPException):
        response = _respond(http_error(error.code or 500))
        if error.code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            response = app.make_response(response)
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(DBAPIError)
    def handle_database_error(error: DBAPIError):
        """A lost connection or a database that refuses (a restart): 503, retry later.
        The pool has discarded the dead connection, so the next request gets a fresh one.
        A NUL PostgreSQL refused: the caller's 400 (a safety net; input is checked up front).
        Any other database error is a bug: 500."""
        if refused_nul(error):
            log.warning("database refused a NUL the input checks let through: %s", request.path)
            return handle_app_error(
                ValidationFailed("包含不允许的控制字符", code="invalid_character")
            )
        if not (error.connection_invalidated or isinstance(error, OperationalError)):
            return handle_unexpected(error)
        from backend.extensions import db

        try:
            db.session.rollback()
        except Exception:  # the connection is gone; the session is reset either way
            db.session.remove()
        log.warning("database unavailable: %s", str(error.orig or error).splitlines()[0])
        return _respond(DatabaseUnavailable())

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        from backend.extensions import db

        db.session.rollback()
        log.exception("unhandled error")
        return _respond(http_error(500))
