"""Test fixtures: the real app on a real database and the real Redis.

``TEST_DATABASE_URL`` picks the database (default: a SQLite file in a temp folder; the
test command runs the suite again with PostgreSQL). ``TEST_REDIS_URL`` picks the Redis
database (default 127.0.0.1:6379/15), flushed before every test. Only WeChat's servers
are faked, by ``tests.fake_wechat``.
"""

from __future__ import annotations

import os

import pytest
import redis
from sqlalchemy import text

from backend import create_app
from backend.config import TestingConfig, normalise_database_url
from backend.extensions import db
from tests import factories
from tests.fake_wechat import FakeWeChatServer
from tests.redis_server import ThrowawayRedis

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return normalise_database_url(url)
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite3")


@pytest.fixture(scope="session")
def fake_wechat():
    server = FakeWeChatServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    return _database_url(tmp_path_factory)


@pytest.fixture(scope="session")
def app_config(database_url, fake_wechat, tmp_path_factory) -> dict:
    return {
        "CONFIG_CLASS": TestingConfig,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": TEST_REDIS_URL,
        "WECHAT_API_BASE_URL": fake_wechat.url,
        "WECHAT_APPID": fake_wechat.state.appid,
        "WECHAT_SECRET": fake_wechat.state.secret,
        "WTF_CSRF_ENABLED": True,
    }


@pytest.fixture(scope="session")
def app(app_config, tmp_path_factory):
    os.environ["INSTANCE_PATH"] = str(tmp_path_factory.mktemp("instance"))
    application = create_app(app_config)
    with application.app_context():
        if db.engine.dialect.name == "postgresql":
            # Whatever an older schema left (a constraint the models no longer declare
            # would make drop_all fail): start from an empty schema.
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        else:
            db.drop_all()
        db.create_all()
        db.session.remove()
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def make_app(app_config):
    """Build extra apps (other configurations); their connections are closed afterwards."""
    built = []

    def build(**overrides):
        application = create_app(dict(app_config, **overrides))
        built.append(application)
        return application

    yield build
    for application in built:
        with application.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


def truncate_all() -> None:
    """Empty every table; faster than rebuilding the schema and safe with real commits."""
    db.session.remove()
    tables = [t.name for t in db.metadata.sorted_tables]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            quoted = ", ".join(f'"{t}"' for t in tables)
            conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        else:
            conn.execute(text("PRAGMA foreign_keys=OFF"))
            for t in reversed(tables):
                conn.execute(text(f'DELETE FROM "{t}"'))
            conn.execute(text("PRAGMA foreign_keys=ON"))


@pytest.fixture(autouse=True)
def _isolated(app, fake_wechat):
    """Every test starts with empty tables, an empty Redis database and a fresh fake WeChat."""
    fake_wechat.reset()
    redis.Redis.from_url(TEST_REDIS_URL).flushdb()
    with app.app_context():
        truncate_all()
        app.extensions.pop("wechat_client", None)
        app.extensions.pop("caller_cache", None)  # ids are reused once tables are emptied
        yield
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def seeded(app):
    """Departments and the 50 certificate types."""
    from backend.services.seed import run_seed

    run_seed(["departments", "certificate types"], echo=lambda _: None)


@pytest.fixture
def api(client):
    """A JSON API client: ``api.post(path, json=..., token=...)``."""
    return factories.ApiClient(client)


@pytest.fixture
def throwaway_redis():
    """A started redis-server of the test's own, for tests that stop or kill Redis."""
    server = ThrowawayRedis()
    server.start()
    yield server
    server.stop()
