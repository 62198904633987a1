"""The bare-driver helpers of the hot paths (``backend.db_driver``) agree with the ORM.

PostgreSQL only: on SQLite the hot paths keep to the session, which the rest of the suite
covers; there these tests check that the driver path is really off.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import any_, inspect, select

from backend import db_driver
from backend.extensions import db
from backend.models import Certificate, User
from tests.factories import create_certificate, create_user


def _postgresql() -> bool:
    if db.engine.dialect.name != "postgresql":
        assert not db_driver.usable()
        return False
    assert db_driver.usable()
    return True


def test_an_account_read_on_the_driver_equals_the_orms(app, seeded):
    user = create_user(display_name="王五")
    if not _postgresql():
        return
    expected = {a.key: getattr(user, a.key) for a in inspect(User).column_attrs}
    person_name = user.person.name
    db.session.expunge_all()
    copy = db_driver.get_detached(User, user.id)
    got = {a.key: getattr(copy, a.key) for a in inspect(User).column_attrs}
    assert got == expected
    assert isinstance(copy.created_at, datetime) and copy.created_at.tzinfo is not None
    assert inspect(copy).detached
    merged = db.session.merge(copy, load=False)  # persistent without a query; relations load
    assert merged.person.name == person_name
    assert db_driver.get_detached(User, 10**9) is None


def test_an_id_list_and_bind_processors_on_the_driver(app, seeded):
    first = create_certificate("id_card")
    second = create_certificate("id_card")
    if not _postgresql():
        return
    statement = select(Certificate.id, Certificate.created_at).where(
        Certificate.id == any_(db_driver.id_list("ids"))
    )
    rows = db_driver.fetch_all(statement, statement, {"ids": [second.id, first.id, 10**9]})
    assert sorted(r.id for r in rows) == [first.id, second.id]
    assert db_driver.fetch_all(statement, statement, {"ids": []}) == []


def test_a_one_certificate_load_keeps_one_generic_plan_once_prepared(app, seeded):
    """A scan's load is a six-table join. Asked for ``id = ANY(array)``, PostgreSQL finds a
    custom plan cheaper than the generic one (it expects ten rows) and re-plans on every
    run, which costs four times the run; the usual code of one certificate asks for
    ``id = $1``, whose generic plan it keeps once psycopg has prepared the statement.
    Several certificates still load together."""
    from backend.services import scans

    certificates = [create_certificate("id_card"), create_certificate("driving_licence")]
    ids = [c.id for c in certificates]
    db.session.commit()
    if not _postgresql():
        return

    def plans(conn) -> tuple[int, int]:
        found = conn.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE 'SELECT certificates.id, certificates.serial%'"
            " AND statement LIKE '%certificates.id = $%'"
        ).fetchall()
        assert len(found) <= 1
        return tuple(found[0]) if found else (0, 0)

    with db_driver.connection() as conn:  # the thread's connection: earlier tests' runs count
        generic_before, custom_before = plans(conn)
        for _ in range(20):  # psycopg prepares a statement after five runs
            loaded = scans._load(ids[:1], conn, holder_user_id=0)
            assert [c.id for c in loaded.certificates] == ids[:1]
        assert [c.id for c in scans._load(ids, conn, holder_user_id=0).certificates] == ids
        generic, custom = plans(conn)
    # PostgreSQL plans a prepared statement's first five runs afresh, then keeps the
    # generic plan: at most five of these runs were planned on their own.
    assert custom - custom_before <= 5 and generic - generic_before >= 10


def test_a_statement_keeps_its_row_class_and_still_names_every_column(app, seeded):
    """The row class is made once per statement (from its first result), not per run."""
    first = create_certificate("id_card")
    second = create_certificate("marriage_certificate")
    if not _postgresql():
        return
    statement = select(Certificate.id, Certificate.serial.label("number")).where(
        Certificate.id == any_(db_driver.id_list("ids"))
    )
    with db_driver.connection() as conn:
        empty = db_driver.execute(conn, statement, {"ids": []}).fetchall()
        one = db_driver.execute(conn, statement, {"ids": [first.id]}).fetchone()
        other = db_driver.execute(conn, statement, {"ids": [second.id]}).fetchone()
    assert empty == []
    assert (one.id, one.number) == (first.id, first.serial)
    assert (other.id, other.number) == (second.id, second.serial)
    assert type(one) is type(other)


def test_statements_on_one_connection_keep_their_own_cursor_and_rows(app, seeded):
    """Each statement reuses a cursor of its own on the connection: interleaved statements
    keep their own columns, a second run gives that run's rows, and a new connection (after
    a lost one) starts with fresh cursors."""
    first = create_certificate("id_card")
    second = create_certificate("marriage_certificate")
    if not _postgresql():
        return
    serials = select(Certificate.serial.label("number")).where(
        Certificate.id == any_(db_driver.id_list("ids"))
    )
    holders = select(Certificate.id, Certificate.holder_person_id.label("person")).where(
        Certificate.id == any_(db_driver.id_list("ids"))
    )
    with db_driver.connection() as conn:
        a = db_driver.execute(conn, serials, {"ids": [first.id]})
        b = db_driver.execute(conn, holders, {"ids": [second.id]})
        assert a is not b
        assert b.fetchall() == [(second.id, second.holder_person_id)]
        assert [r.number for r in a.fetchall()] == [first.serial]
        again = db_driver.execute(conn, serials, {"ids": [second.id]})
        assert again is a
        assert [r.number for r in again.fetchall()] == [second.serial]
        conn.close()  # as when the server drops it: the next use gets a new connection
    with db_driver.connection() as fresh:
        assert fresh is not conn
        row = db_driver.execute(fresh, holders, {"ids": [first.id]}).fetchone()
        assert (row.id, row.person) == (first.id, first.holder_person_id)
