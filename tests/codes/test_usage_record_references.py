"""Usage records name rows without foreign-key constraints: the write path keeps them right.

The constraints were dropped (migration 0011) because each took a WAL-logged lock on the
busiest rows of the database on every scan; these tests hold the scan's writes to what
the constraints used to guarantee, and more: each reference names the right row.
"""

from __future__ import annotations

from sqlalchemy import inspect, select

from backend.extensions import db
from backend.models import UsageRecord
from tests.codes.conftest import scan, show_ok
from tests.factories import create_certificate


def test_a_scan_writes_references_that_resolve_to_the_rows_it_read(api, world):
    licence = create_certificate("business_licence", holder=world.citizen.person)
    drivers = create_certificate("driving_licence", holder=world.citizen.person)  # out of scope
    ids = [world.id_card.id, licence.id, drivers.id]
    code = show_ok(api, world.citizen_token, ids)
    assert scan(api, world.member_token, code["qr_content"]).status_code == 200

    db.session.rollback()
    records = db.session.scalars(select(UsageRecord).order_by(UsageRecord.certificate_id)).all()
    assert [r.certificate_id for r in records] == sorted(ids)
    for record in records:
        certificate = record.certificate  # each relationship loads the row it names
        assert certificate is not None
        assert record.type == certificate.type
        assert record.department is not None
        assert record.department.id == certificate.department_id
        assert record.holder_person == world.citizen.person
        assert record.holder_company is None
        assert record.organisation == world.hotel
        assert record.member.id == world.member.id
        assert record.shown_by_id == world.citizen.id
    assert {r.result for r in records} == {"ok", "out_of_scope"}


def test_usage_records_take_no_foreign_key_locks_but_the_reports(app):
    """Only the holder's report keeps a constraint: it is an update, not every scan's insert."""
    with db.engine.connect() as conn:
        keys = inspect(conn).get_foreign_keys("usage_records")
    assert [(k["constrained_columns"], k["referred_table"]) for k in keys] == [
        (["reported_by_id"], "users")
    ]
