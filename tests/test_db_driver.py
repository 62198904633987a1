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


def test_the_hot_paths_prepared_statements_keep_one_generic_plan(app, seeded):
    """PostgreSQL re-plans a prepared statement for each run while its custom plans look
    cheaper than the generic one, which for a scan's six-table load cost more than running
    it. The thread's own connection is set to keep the generic plan
    (``HOT_PATH_PLAN_CACHE_MODE``): after psycopg prepares the load, no run is re-planned."""
    from backend.services import scans

    certificate = create_certificate("id_card")
    db.session.commit()
    if not _postgresql():
        return
    with db_driver.connection() as conn:
        assert conn.execute("SHOW plan_cache_mode").fetchone()[0] == "force_generic_plan"
        for _ in range(12):  # psycopg prepares a statement on its fifth run
            loaded = scans._load([certificate.id], conn, holder_user_id=0)
            assert [c.id for c in loaded.certificates] == [certificate.id]
        plans = conn.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE 'SELECT certificates.id, certificates.serial%'"
        ).fetchall()
    assert len(plans) == 1
    generic, custom = plans[0]
    assert generic >= 7 and custom == 0
