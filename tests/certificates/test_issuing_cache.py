"""Each worker caches a type's profile for issuing; changes made by any worker take effect.

A second app on the same database stands for a second worker process: it has its own
cache, so nothing it does can reach this worker's memory; only the database check can.
"""

import pytest

from backend.errors import Forbidden, UnprocessableEntity
from backend.extensions import db
from backend.models import Certificate
from backend.services import certificate_types, seals
from backend.services.certificate_store import allocate_serials, verify_certificate
from tests.certificates.helpers import PERSON_FIELDS, issue_to_person, officer_of, person_type
from tests.factories import create_department


def _cached(app, code):
    return app.extensions["issuing_profiles"][code]


def test_a_key_revoked_by_another_worker_is_never_used_again(app, make_app):
    cert_type = person_type()
    code, officer = cert_type.code, officer_of(cert_type.department)
    first = issue_to_person(officer, code)
    revoked = first.seals[0].key_id
    assert _cached(app, code).key_ids == [revoked]
    with make_app().app_context():
        seals.revoke_seal_key(revoked, "私钥泄露")
    second = issue_to_person(officer, code)
    assert second.seals[0].key_id != revoked
    assert verify_certificate(second).ok
    assert verify_certificate(db.session.get(Certificate, first.id)).reason == "key_revoked"
    assert _cached(app, code).key_ids == [second.seals[0].key_id]


def test_a_key_rotated_by_another_worker_stops_signing_at_once(app, make_app):
    cert_type = person_type()
    code, officer = cert_type.code, officer_of(cert_type.department)
    old = issue_to_person(officer, code).seals[0].key_id
    with make_app().app_context():
        from backend.models import Department

        new = seals.rotate_seal_key(db.session.get(Department, cert_type.department_id)).key_id
    assert issue_to_person(officer, code).seals[0].key_id == new != old


def test_a_type_edited_by_another_worker_is_validated_by_its_new_schema(app, make_app):
    cert_type = person_type()
    code, officer = cert_type.code, officer_of(cert_type.department)
    issue_to_person(officer, code)
    card = {"name": "卡号", "type": "text", "required": True}
    with make_app().app_context():
        certificate_types.update_type(code, {"fields": PERSON_FIELDS + [card]})
    with pytest.raises(UnprocessableEntity) as refused:
        issue_to_person(officer, code)
    assert refused.value.code == "missing_field" and refused.value.field == "卡号"
    assert issue_to_person(officer, code, 卡号="A001").id


def test_a_takeover_by_another_worker_moves_issuing_and_sealing_at_once(app, make_app):
    cert_type = person_type()
    code, old_officer = cert_type.code, officer_of(cert_type.department)
    issue_to_person(old_officer, code)
    successor = create_department()
    new_officer = officer_of(successor)
    with make_app().app_context():
        certificate_types.update_type(code, {"department": successor.code})
    with pytest.raises(Forbidden):
        issue_to_person(old_officer, code)
    taken_over = issue_to_person(new_officer, code)
    assert taken_over.serial.startswith(successor.code.upper() + "-")
    assert taken_over.seals[0].department_id == successor.id
    assert verify_certificate(taken_over).ok


def test_serials_issued_one_by_one_are_consecutive_and_never_reused(app):
    cert_type = person_type()
    code, officer = cert_type.code, officer_of(cert_type.department)
    serials = [issue_to_person(officer, code).serial for _ in range(3)]
    numbers = [int(s.split("-")[3]) for s in serials]
    assert numbers == [numbers[0], numbers[0] + 1, numbers[0] + 2]
    # An import reserving serials afterwards starts after everything handed out.
    reserved = allocate_serials(cert_type, cert_type.department, 2)
    db.session.commit()
    assert int(reserved[0].split("-")[3]) > numbers[-1]
    assert issue_to_person(officer, code).serial not in serials + reserved


def test_a_joint_department_reorganised_by_another_worker_seals_through_its_successor(
    app, make_app
):
    cert_type = person_type()
    partner, successor = create_department(), create_department()
    code, officer = cert_type.code, officer_of(cert_type.department)
    certificate_types.update_type(code, {"joint_departments": [partner.code]})
    first = issue_to_person(officer, code)
    assert {s.department_id for s in first.seals} == {cert_type.department_id, partner.id}
    with make_app().app_context():
        certificate_types.reorganise_department(partner.code, successor.code)
    second = issue_to_person(officer, code)
    assert {s.department_id for s in second.seals} == {cert_type.department_id, successor.id}
    assert verify_certificate(second).ok and verify_certificate(first).ok


def test_a_forked_worker_never_continues_its_parents_serial_block(app):
    cert_type = person_type()
    code, officer = cert_type.code, officer_of(cert_type.department)
    first = int(issue_to_person(officer, code).serial.split("-")[3])
    if db.engine.dialect.name != "postgresql":  # serials come from the counter row directly
        assert int(issue_to_person(officer, code).serial.split("-")[3]) == first + 1
        return
    app.extensions["serial_blocks"]["pid"] = -1  # as if this process had been forked
    second = int(issue_to_person(officer, code).serial.split("-")[3])
    assert second > first + 1  # a block of its own, after the one the "parent" holds
    assert int(issue_to_person(officer, code).serial.split("-")[3]) == second + 1
