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
