"""How a scan's transaction commits: without waiting for the WAL flush on PostgreSQL
(``SCAN_ASYNC_COMMIT``), set by the same query that loads the certificates."""

from __future__ import annotations

from sqlalchemy import text

from backend.extensions import db
from backend.services import scans


def _setting_after_load(certificate_id: int) -> str | None:
    loaded, _, _ = scans._load([certificate_id])
    assert [c.id for c in loaded] == [certificate_id]
    if db.engine.dialect.name != "postgresql":
        return None
    return db.session.execute(text("SHOW synchronous_commit")).scalar()


def test_the_load_relaxes_only_its_own_transaction_on_postgresql(app, world):
    relaxed = _setting_after_load(world.id_card.id)
    db.session.rollback()
    if db.engine.dialect.name == "postgresql":
        assert relaxed == "off"
        # SET LOCAL: the next transaction on the same connection is durable again.
        assert db.session.execute(text("SHOW synchronous_commit")).scalar() == "on"
    else:
        assert scans._load_statement() is scans._LOAD


def test_with_async_commit_off_scans_commit_durably(app, world):
    app.config["SCAN_ASYNC_COMMIT"] = False
    try:
        assert scans._load_statement() is scans._LOAD
        relaxed = _setting_after_load(world.id_card.id)
    finally:
        app.config["SCAN_ASYNC_COMMIT"] = True
        db.session.rollback()
    assert relaxed in (None, "on")
