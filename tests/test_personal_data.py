"""ID numbers and phones are encrypted at rest and found through a keyed hash."""

from sqlalchemy import text

from backend.extensions import db
from backend.services.accounts import find_person, person_id_number
from tests.factories import create_person, valid_id_number


def test_the_raw_persons_table_holds_no_plain_id_number_or_phone():
    id_number = valid_id_number(101)
    create_person(id_number=id_number, phone="13811112222")
    rows = db.session.execute(text("SELECT * FROM persons")).fetchall()
    dump = repr(rows).encode()
    assert id_number.encode() not in dump
    assert b"13811112222" not in dump
    for row in rows:
        for value in row:
            if isinstance(value, (bytes, memoryview)):
                assert id_number.encode() not in bytes(value)


def test_a_person_is_found_by_id_number_and_decrypts():
    id_number = valid_id_number(102)
    created = create_person(id_number=id_number)
    found = find_person(id_number)
    assert found is not None and found.id == created.id
    assert person_id_number(found) == id_number


def test_masking():
    from backend.security.crypto import mask_id_number, mask_phone

    assert mask_id_number("330106199001011234") == "3301**********1234"
    assert mask_phone("13800138000") == "138****8000"
