"""Seals sign and verify; stored certificates re-check against the trust list."""

from datetime import date, timedelta

from sqlalchemy import text

from backend import clock
from backend.extensions import db
from backend.services import seals
from backend.services.certificate_store import (
    allocate_serials,
    certificate_fields,
    effective_status,
    held_valid_type_codes,
    serial_is_valid,
    verify_certificate,
)
from tests.factories import (
    create_certificate,
    create_certificate_type,
    create_department,
    create_person,
    valid_id_number,
)


def test_a_signature_round_trips_and_a_changed_byte_fails():
    department = create_department()
    message = seals.canonical_json({"b": 1, "a": "证"})
    assert message == '{"a":"证","b":1}'.encode()
    signature = seals.sign(department, message)
    db.session.commit()
    assert seals.verify(signature.key_id, message, signature.value).ok
    tampered = message.replace(b"1", b"2")
    assert seals.verify(signature.key_id, tampered, signature.value).reason == "bad_signature"


def test_private_keys_are_stored_encrypted():
    department = create_department()
    key, private = seals.signing_key_material(department)
    db.session.commit()
    raw = db.session.execute(text("SELECT private_key_cipher FROM seal_keys")).scalar_one()
    assert private not in bytes(raw)


def test_after_rotation_old_certificates_still_verify_and_new_ones_use_the_new_key():
    certificate = create_certificate()
    old_key = certificate.seals[0].key_id
    department = certificate.type.department
    new_key = seals.rotate_seal_key(department)
    newer = create_certificate(cert_type=certificate.type)
    assert newer.seals[0].key_id == new_key.key_id != old_key
    assert verify_certificate(certificate).ok
    assert verify_certificate(newer).ok


def test_a_retired_key_no_longer_verifies():
    certificate = create_certificate()
    old_key = certificate.seals[0].key_id
    seals.rotate_seal_key(certificate.type.department)
    seals.retire_seal_key(old_key)
    check = verify_certificate(certificate)
    assert not check.ok and check.reason == "key_retired"


def test_a_revoked_key_invalidates_what_it_signed():
    certificate = create_certificate()
    seals.revoke_seal_key(certificate.seals[0].key_id, "私钥泄露")
    check = verify_certificate(certificate)
    assert not check.ok and check.reason == "key_revoked"
    listed = {k["key_id"]: k["status"] for k in seals.trust_list()}
    assert listed[certificate.seals[0].key_id] == "revoked"


def test_a_tampered_payload_or_column_fails_verification():
    certificate = create_certificate()
    blob = bytearray(certificate.payload_cipher)
    blob[-1] ^= 1
    certificate.payload_cipher = bytes(blob)
    assert verify_certificate(certificate).reason == "payload_unreadable"
    db.session.rollback()
    certificate.expires_on = date(2099, 1, 1)
    assert verify_certificate(certificate).reason == "columns_mismatch"


def test_joint_issuance_needs_every_seal():
    other = create_department()
    certificate = create_certificate(sealing_departments=[other])
    assert {s.department_id for s in certificate.seals} == {certificate.department_id, other.id}
    assert verify_certificate(
        certificate, required_department_ids=[certificate.department_id, other.id]
    ).ok
    third = create_department()
    check = verify_certificate(certificate, required_department_ids=[third.id])
    assert not check.ok and check.reason == "missing_seal"


def test_serials_are_consecutive_and_carry_a_check_character():
    cert_type = create_certificate_type()
    serials = allocate_serials(cert_type, cert_type.department, 3)
    db.session.commit()
    assert [s.split("-")[3] for s in serials] == ["0000001", "0000002", "0000003"]
    assert all(serial_is_valid(s) for s in serials)
    assert not serial_is_valid(serials[0][:-1] + ("A" if serials[0][-1] != "A" else "B"))
    assert allocate_serials(cert_type, cert_type.department, 1)[0].split("-")[3] == "0000004"


def test_the_raw_certificate_table_holds_no_plain_id_number():
    id_number = valid_id_number(501)
    create_certificate(holder=create_person(id_number=id_number))
    dump = repr(db.session.execute(text("SELECT * FROM certificates")).fetchall()).encode()
    assert id_number.encode() not in dump


def test_fields_decrypt_and_status_follows_expiry():
    certificate = create_certificate(expires_on=date(2030, 1, 1))
    assert "姓名" in certificate_fields(certificate)
    assert effective_status(certificate, today=date(2029, 12, 31)) == "valid"
    assert effective_status(certificate, today=date(2030, 1, 2)) == "expired"


def test_held_valid_type_codes_ignore_expired_and_revoked_certificates():
    person = create_person(id_number=valid_id_number(502))
    valid = create_certificate(holder=person)
    expired_type = create_certificate_type()
    today = clock.now().date()
    create_certificate(cert_type=expired_type, holder=person, expires_on=today - timedelta(days=2))
    revoked = create_certificate(holder=person)
    revoked.status = "revoked"
    db.session.commit()
    assert held_valid_type_codes(person.id) == {valid.type.code}
