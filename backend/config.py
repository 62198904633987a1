"""Configuration read from the environment, with embedded defaults for a fresh machine.

Nothing set: SQLite in ``instance/`` and the in-process token store. ``DATABASE_URL`` and
``REDIS_URL`` switch to PostgreSQL and Redis. Production requires its secrets to be given.
"""

from __future__ import annotations

import json
import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given in the common ``postgresql://`` form."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Config:
    ENV_NAME = "development"
    TESTING = False
    SECRET_KEY: str | None = os.environ.get("SECRET_KEY")
    DATA_ENCRYPTION_KEY: str | None = os.environ.get("DATA_ENCRYPTION_KEY")
    SQLALCHEMY_DATABASE_URI: str | None = (
        normalise_database_url(os.environ["DATABASE_URL"])
        if os.environ.get("DATABASE_URL")
        else None
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    # Ping a pooled connection before use only after it sat idle this long (backend.db_pool).
    DB_PING_IDLE_S = float(os.environ.get("DB_PING_IDLE_S", "10"))
    REDIS_URL: str | None = os.environ.get("REDIS_URL") or None
    # How many worker processes serve this app; the in-process token store needs exactly one.
    WORKERS = _int("WEB_CONCURRENCY", 1)
    # One JSON line per request (method, path with code tokens redacted, status, request id).
    ACCESS_LOG = os.environ.get("ACCESS_LOG", "1") == "1"
    MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", 10 * 1024 * 1024)
    AUTH_TOKEN_TTL_S = _int("AUTH_TOKEN_TTL_S", 24 * 3600)
    # How long a worker may reuse an account read for a bearer token (backend.caller_cache).
    CALLER_CACHE_TTL_S = _int("CALLER_CACHE_TTL_S", 300)
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
    # Dynamic certificate codes (docs/codes.md): default lifetime and rate limits
    # ("N/second|minute|hour", the ``limits`` notation; several separated by ";").
    CODE_TTL_S = _int("CODE_TTL_S", 60)
    RATE_LIMIT_SCANS = os.environ.get("RATE_LIMIT_SCANS", "30/minute;600/hour")
    RATE_LIMIT_CODES = os.environ.get("RATE_LIMIT_CODES", "20/minute;300/hour")
    RATE_LIMIT_OFFLINE_CODES = os.environ.get("RATE_LIMIT_OFFLINE_CODES", "10/minute")
    RATE_LIMIT_OFFLINE_VERIFY = os.environ.get("RATE_LIMIT_OFFLINE_VERIFY", "120/minute")
    # Accounts (docs/api.md): real-name binding attempts per account (successful or not),
    # failed password logins per username and per client address.
    RATE_LIMIT_BIND = os.environ.get("RATE_LIMIT_BIND", "5/hour")
    RATE_LIMIT_LOGIN_USER = os.environ.get("RATE_LIMIT_LOGIN_USER", "10/15 minutes")
    RATE_LIMIT_LOGIN_ADDRESS = os.environ.get("RATE_LIMIT_LOGIN_ADDRESS", "100/15 minutes")
    # How long a verifier organisation's scope may be served from a worker's memory.
    SCOPE_CACHE_TTL_S = _int("SCOPE_CACHE_TTL_S", 5)
    # Scans commit without waiting for PostgreSQL's disk flush (see docs/codes.md).
    SCAN_ASYNC_COMMIT = os.environ.get("SCAN_ASYNC_COMMIT", "1") == "1"
    WECHAT_APPID = os.environ.get("WECHAT_APPID", "wx-dev-appid")
    WECHAT_SECRET = os.environ.get("WECHAT_SECRET", "wx-dev-secret")
    WECHAT_API_BASE_URL = os.environ.get("WECHAT_API_BASE_URL", "https://api.weixin.qq.com/")
    WECHAT_PUSH_TOKEN = os.environ.get("WECHAT_PUSH_TOKEN", "dev-push-token")
    WECHAT_TIMEOUT_S = float(os.environ.get("WECHAT_TIMEOUT_S", 5))
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "0") == "1"
    WTF_CSRF_TIME_LIMIT = None
    JSON_AS_ASCII = False
    # Response compression (Flask-Compress), the same settings as nginx.conf's gzip.
    COMPRESS_ALGORITHM = "gzip"
    COMPRESS_LEVEL = 5
    COMPRESS_MIN_SIZE = 256
    COMPRESS_MIMETYPES = [
        "text/html",
        "text/css",
        "text/javascript",
        "application/javascript",
        "application/json",
        "image/svg+xml",
        "text/plain",
    ]
    # Behind nginx: honour X-Forwarded-For/Proto/Host from one proxy hop.
    TRUST_PROXY = os.environ.get("TRUST_PROXY", "0") == "1"
    # Generated into instance/ on first development run when not given.
    GENERATE_MISSING_SECRETS = True
    # Notifications (docs/notifications.md): template ids, retries, worker, campaigns, SMS.
    WECHAT_TEMPLATE_IDS: dict = json.loads(os.environ.get("WECHAT_TEMPLATE_IDS") or "{}")
    WECHAT_INBOX_PAGE = os.environ.get("WECHAT_INBOX_PAGE", "pages/notifications/index")
    NOTIFY_MAX_ATTEMPTS = _int("NOTIFY_MAX_ATTEMPTS", 5)
    NOTIFY_BACKOFF_BASE_S = _int("NOTIFY_BACKOFF_BASE_S", 30)
    NOTIFY_BACKOFF_MAX_S = _int("NOTIFY_BACKOFF_MAX_S", 3600)
    NOTIFY_QUEUE_LEASE_S = _int("NOTIFY_QUEUE_LEASE_S", 1800)
    NOTIFY_CLAIM_LEASE_S = _int("NOTIFY_CLAIM_LEASE_S", 120)
    NOTIFY_JOB_CHUNK = _int("NOTIFY_JOB_CHUNK", 100)
    NOTIFY_SEND_THREADS = _int("NOTIFY_SEND_THREADS", 8)
    NOTIFY_SWEEP_INTERVAL_S = _int("NOTIFY_SWEEP_INTERVAL_S", 10)
    CAMPAIGN_BATCH_SIZE = _int("CAMPAIGN_BATCH_SIZE", 2000)
    CAMPAIGN_FANOUT_RATE_PER_S = _int("CAMPAIGN_FANOUT_RATE_PER_S", 20000)
    SMS_PROVIDER = os.environ.get("SMS_PROVIDER", "logging")
    # Public holidays (YYYY-MM-DD, comma-separated) not counted as verification working days.
    VERIFICATION_HOLIDAYS = os.environ.get("VERIFICATION_HOLIDAYS", "")


class DevelopmentConfig(Config):
    pass


class ProductionConfig(Config):
    ENV_NAME = "production"
    TRUST_PROXY = os.environ.get("TRUST_PROXY", "1") == "1"
    GENERATE_MISSING_SECRETS = False
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "1") == "1"
    WORKERS = _int("WEB_CONCURRENCY", 2)
    # No development default: it would let anyone sign WeChat push calls.
    WECHAT_PUSH_TOKEN = os.environ.get("WECHAT_PUSH_TOKEN")


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    GENERATE_MISSING_SECRETS = False
    SECRET_KEY = "test-secret-key"
    DATA_ENCRYPTION_KEY = "dGVzdC1kYXRhLWVuY3J5cHRpb24ta2V5LTMyYnl0ZSE="  # 32 bytes, tests only
    WECHAT_PUSH_TOKEN = "test-push-token"
    SCOPE_CACHE_TTL_S = 0  # tables are emptied between tests and ids reused
    ACCESS_LOG = False


CONFIGS = {
    "development": DevelopmentConfig,
    "production": ProductionConfig,
    "testing": TestingConfig,
}


def config_from_env() -> type[Config]:
    return CONFIGS[os.environ.get("APP_ENV", "development")]
