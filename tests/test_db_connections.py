"""Pooled database connections that die: pinged when idle, 503 when lost while busy.

The connection is really cut: on PostgreSQL the server ends its backend
(``pg_terminate_backend``), on SQLite the driver's connection is closed under the pool.
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from backend import db_driver
from backend.errors import DatabaseUnavailable
from backend.extensions import db

PATH = "/api/mp/v1/certificate-types"
ONE_CONNECTION = {"pool_size": 1, "max_overflow": 0}


def _cut_the_pooled_connection(app) -> None:
    """Check the one pooled connection out, note who it is, return it, then kill it."""
    with app.app_context():
        raw = db.session.connection().connection.dbapi_connection
        if db.engine.dialect.name == "postgresql":
            pid = raw.info.backend_pid
            db.session.remove()
            admin = create_engine(db.engine.url)
            with admin.begin() as conn:
                assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
            admin.dispose()
        else:
            db.session.remove()
            raw.close()


def test_a_connection_lost_while_busy_answers_503_then_recovers(make_app, seeded):
    app = make_app(DB_PING_IDLE_S=3600, SQLALCHEMY_ENGINE_OPTIONS=ONE_CONNECTION)
    client = app.test_client()
    assert client.get(PATH).status_code == 200
    _cut_the_pooled_connection(app)

    lost = client.get(PATH)
    assert lost.status_code == 503
    assert lost.get_json()["error"]["code"] == "database_unavailable"
    assert "数据库" in lost.get_json()["error"]["message"]
    again = client.get(PATH)
    assert again.status_code == 200
    assert len(again.get_json()["items"]) == 50


def test_an_idle_connection_is_pinged_and_replaced_before_use(make_app, seeded):
    app = make_app(DB_PING_IDLE_S=0, SQLALCHEMY_ENGINE_OPTIONS=ONE_CONNECTION)
    client = app.test_client()
    assert client.get(PATH).status_code == 200
    _cut_the_pooled_connection(app)

    response = client.get(PATH)
    assert response.status_code == 200
    assert len(response.get_json()["items"]) == 50


def test_the_driver_path_answers_503_on_a_lost_connection_then_recovers(make_app, seeded):
    """Hot paths on the bare driver (``backend.db_driver``) share the pool and its rules."""
    app = make_app(DB_PING_IDLE_S=3600, SQLALCHEMY_ENGINE_OPTIONS=ONE_CONNECTION)
    with app.app_context():
        if not db_driver.usable():  # SQLite: the hot paths keep to the session
            assert db.engine.dialect.name == "sqlite"
            return
        with db_driver.pooled_connection() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    _cut_the_pooled_connection(app)
    with app.app_context():
        with pytest.raises(DatabaseUnavailable), db_driver.pooled_connection() as conn:
            conn.execute("SELECT 1")
        with db_driver.pooled_connection() as conn:  # a fresh connection replaced it
            assert conn.execute("SELECT 1").fetchone() == (1,)
        # Handed back as the session expects it: no transaction left open.
        assert db.session.execute(text("SELECT 1")).scalar() == 1
