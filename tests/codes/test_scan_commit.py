"""How a scan's writes commit.

On PostgreSQL the usage records, the notification and its deliveries are written by one
statement on the bare driver, in a transaction that does not wait for the WAL flush
(``SCAN_ASYNC_COMMIT``); ``SET LOCAL`` keeps that to the scan's own transaction. A deferred trigger
made for the test records the setting in force when the scan's transaction commits.
"""

from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import func, select, text

from backend import db_driver
from backend.extensions import db
from backend.models import UsageRecord
from backend.services import scans
from notifications.models import Delivery, Notification, WeChatSubscription
from notifications.templates import TEMPLATES
from tests.codes.conftest import scan, show_ok
from tests.notifications.factories import subscribe

_SETUP = [
    "CREATE TABLE scan_commit_modes (mode text)",
    """CREATE FUNCTION note_commit_mode() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO scan_commit_modes VALUES (current_setting('synchronous_commit'));
        RETURN NEW;
    END $$""",
    # Deferred: it runs at COMMIT, after the whole statement, so it sees what the commit sees.
    """CREATE CONSTRAINT TRIGGER note_commit_mode AFTER INSERT ON usage_records
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION note_commit_mode()""",
]
_TEARDOWN = [
    "DROP TRIGGER IF EXISTS note_commit_mode ON usage_records",
    "DROP FUNCTION IF EXISTS note_commit_mode()",
    "DROP TABLE IF EXISTS scan_commit_modes",
]


@contextlib.contextmanager
def _commit_modes():
    """The synchronous_commit setting at the commit of each usage record, in order."""
    modes: list[str] = []
    with db.engine.begin() as conn:
        for statement in _SETUP:
            conn.execute(text(statement))
    try:
        yield modes
        with db.engine.connect() as conn:
            modes.extend(conn.execute(text("SELECT mode FROM scan_commit_modes")).scalars())
    finally:
        with db.engine.begin() as conn:
            for statement in _TEARDOWN:
                conn.execute(text(statement))


def _scan_once(api, world) -> None:
    code = show_ok(api, world.citizen_token, [world.id_card.id])
    response = scan(api, world.member_token, code["qr_content"])
    assert response.status_code == 200, response.get_json()


@pytest.fixture
def postgresql_only(app):
    """Whether the driver path runs; the embedded SQLite default writes through the
    session, where there is nothing to relax (those tests then check the session path)."""
    return db_driver.usable()


def test_a_scan_commits_without_waiting_for_the_flush_and_only_itself(
    app, api, world, postgresql_only
):
    if not postgresql_only:
        _scan_once(api, world)
        assert db.session.scalar(select(UsageRecord.id)) is not None
        return
    with _commit_modes() as modes:
        _scan_once(api, world)
    assert modes == ["off"]
    # SET LOCAL: every pooled connection is durable again for whoever uses it next.
    with db.engine.connect() as conn:
        assert conn.execute(text("SHOW synchronous_commit")).scalar() == "on"
    with db_driver.connection() as conn:
        assert conn.execute("SHOW synchronous_commit").fetchone()[0] == "on"


def test_with_async_commit_off_scans_commit_durably(app, api, world, postgresql_only):
    app.config["SCAN_ASYNC_COMMIT"] = False
    try:
        if not postgresql_only:
            _scan_once(api, world)
            return
        with _commit_modes() as modes:
            _scan_once(api, world)
    finally:
        app.config["SCAN_ASYNC_COMMIT"] = True
    assert modes == ["on"]


# Every usage record insert fails while this is in place (key: on PostgreSQL).
_REFUSE = {
    True: "ALTER TABLE usage_records ADD CONSTRAINT no_hotel_scans "
    "CHECK (purpose <> '入住登记') NOT VALID",
    False: "CREATE TRIGGER no_hotel_scans BEFORE INSERT ON usage_records "
    "WHEN NEW.purpose = '入住登记' BEGIN SELECT RAISE(ABORT, 'no hotel scans'); END",
}
_ALLOW = {
    True: "ALTER TABLE usage_records DROP CONSTRAINT no_hotel_scans",
    False: "DROP TRIGGER no_hotel_scans",
}


def test_a_failed_write_leaves_nothing_and_the_connection_usable(app, api, world):
    """The usage records and the notification go in together or not at all."""
    postgresql = db.engine.dialect.name == "postgresql"
    with db.engine.begin() as conn:
        conn.execute(text(_REFUSE[postgresql]))
    try:
        code = show_ok(api, world.citizen_token, [world.id_card.id])
        response = scan(api, world.member_token, code["qr_content"])
        assert response.status_code == 500
        assert response.get_json()["error"]["code"] == "internal_error"
    finally:
        with db.engine.begin() as conn:
            conn.execute(text(_ALLOW[postgresql]))
    db.session.rollback()
    assert db.session.scalar(select(UsageRecord.id)) is None
    assert db.session.scalar(select(Notification.id)) is None
    assert db.session.scalar(select(Delivery.id)) is None
    # The pool's connections still work (none was left inside a failed transaction).
    _scan_once(api, world)
    assert db.session.scalar(select(UsageRecord.purpose)) == "入住登记"


def test_a_holder_reached_by_using_up_an_acceptance_gets_it_back_if_the_scan_fails(
    app, api, world, monkeypatch
):
    """When telling the holder uses up quota (a one-time WeChat acceptance), the look-up
    and the writes share one transaction: a failed write gives the acceptance back."""
    monkeypatch.setattr(scans, "NOTIFICATION_CATEGORY", "general")  # a one-time template
    world.citizen.wechat_openid = "o-holder"
    db.session.commit()
    subscribe(world.citizen, TEMPLATES["general"].wechat.key, one_time=2)

    def left() -> int:
        db.session.expire_all()
        return db.session.scalar(select(WeChatSubscription.one_time_remaining))

    _scan_once(api, world)
    assert left() == 1
    channels = db.session.scalars(select(Delivery.channel).order_by(Delivery.channel)).all()
    assert channels == ["inbox", "wechat"]

    postgresql = db.engine.dialect.name == "postgresql"
    with db.engine.begin() as conn:
        conn.execute(text(_REFUSE[postgresql]))
    try:
        code = show_ok(api, world.citizen_token, [world.id_card.id])
        assert scan(api, world.member_token, code["qr_content"]).status_code == 500
    finally:
        with db.engine.begin() as conn:
            conn.execute(text(_ALLOW[postgresql]))
    assert left() == 1
    assert db.session.scalar(select(func.count()).select_from(UsageRecord)) == 1
