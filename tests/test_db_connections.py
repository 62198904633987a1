"""Pooled database connections that die: pinged when idle, 503 when lost while busy.

The connection is really cut: on PostgreSQL the server ends its backend
(``pg_terminate_backend``), on SQLite the driver's connection is closed under the pool.
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from backend import db_driver
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
    """Hot paths on the bare driver (``backend.db_driver``: the worker thread's own
    connection) follow the pool's rules: lost while busy, 503, then a fresh one."""
    app = make_app(DB_PING_IDLE_S=3600)
    with app.app_context():
        if not db_driver.usable():  # SQLite: the hot paths keep to the session
            assert db.engine.dialect.name == "sqlite"
            return
        with db_driver.connection() as conn:
            pid = conn.info.backend_pid
            assert conn.execute("SELECT 1").fetchone() == (1,)
        admin = create_engine(db.engine.url)
        with admin.begin() as admin_conn:
            assert admin_conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
        admin.dispose()
        with pytest.raises(DBAPIError) as lost, db_driver.connection() as conn:
            conn.execute("SELECT 1")
        assert lost.value.connection_invalidated
        with db_driver.connection() as conn:  # a fresh connection replaced it
            assert conn.info.backend_pid != pid
            assert conn.execute("SELECT 1").fetchone() == (1,)
