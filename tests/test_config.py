"""Start-up refuses unsafe configurations with a clear message."""

import pytest

from backend import ConfigurationError
from backend.config import ProductionConfig, TestingConfig, normalise_database_url
from tests.factories import create_user

PRODUCTION = {
    "CONFIG_CLASS": ProductionConfig,
    "SECRET_KEY": "prod-secret",
    "DATA_ENCRYPTION_KEY": TestingConfig.DATA_ENCRYPTION_KEY,
    "WECHAT_PUSH_TOKEN": "prod-push-token",
}


def test_the_in_process_store_is_refused_with_two_workers(make_app):
    with pytest.raises(ConfigurationError, match="one worker"):
        make_app(REDIS_URL=None, WORKERS=2)


def test_the_in_process_store_is_used_when_no_redis_url_is_set(make_app):
    application = make_app(REDIS_URL=None, WORKERS=1)
    body = application.test_client().get("/healthz").get_json()
    assert body["token_store"] == "memory"


def test_production_requires_its_secrets(make_app):
    with pytest.raises(ConfigurationError, match="SECRET_KEY is required"):
        make_app(**dict(PRODUCTION, SECRET_KEY=None, DATA_ENCRYPTION_KEY=None))


def test_production_requires_the_wechat_push_token(make_app):
    """The development default is public: pushes signed with it would be accepted."""
    with pytest.raises(ConfigurationError, match="WECHAT_PUSH_TOKEN is required in production"):
        make_app(**dict(PRODUCTION, WECHAT_PUSH_TOKEN=None))


def test_production_refuses_to_start_while_a_demo_account_exists(make_app):
    create_user(is_demo=True, username="citizen-demo")
    with pytest.raises(ConfigurationError, match="citizen-demo"):
        make_app(**PRODUCTION)


def test_production_starts_without_demo_accounts(make_app):
    create_user(username="real-officer")
    assert make_app(**PRODUCTION).config["ENV_NAME"] == "production"


def test_postgres_urls_use_psycopg3():
    assert normalise_database_url("postgresql://h/db") == "postgresql+psycopg://h/db"
    assert normalise_database_url("sqlite:///x") == "sqlite:///x"
