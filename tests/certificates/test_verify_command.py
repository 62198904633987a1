"""``flask verify-certificate`` re-checks a stored certificate: any changed byte fails."""

import json

import pytest
from sqlalchemy import text

from backend.extensions import db
from backend.models import Certificate
from backend.security.crypto import get_cipher
from backend.services import seals
from backend.services.certificate_store import payload_bytes
from tests.factories import create_certificate


def verify(runner, certificate):
    db.session.remove()  # the command reads what is stored, not this session's objects
    return runner.invoke(args=["verify-certificate", str(certificate)])


def test_an_untouched_certificate_verifies_by_id_and_by_serial(runner):
    certificate = create_certificate()
    serial, certificate_id = certificate.serial, certificate.id
    by_id = verify(runner, certificate_id)
    assert by_id.exit_code == 0, by_id.output
    assert "verification ok" in by_id.output
    assert verify(runner, serial).exit_code == 0


def test_an_unknown_certificate_is_reported(runner):
    result = verify(runner, 424242)
    assert result.exit_code != 0 and "not found" in result.output


def _store(certificate_id: int, **values) -> None:
    sets = ", ".join(f"{k} = :{k}" for k in values)
    statement = text(f"UPDATE certificates SET {sets} WHERE id = :id")
    db.session.execute(statement, dict(values, id=certificate_id))
    db.session.commit()


@pytest.mark.parametrize("position", [0, 20, -1])
def test_a_changed_byte_in_the_stored_payload_fails(runner, position):
    certificate = create_certificate()
    blob = bytearray(certificate.payload_cipher)
    blob[position] ^= 0x01
    _store(certificate.id, payload_cipher=bytes(blob))
    result = verify(runner, certificate.id)
    assert result.exit_code == 1
    assert "FAILED" in result.output and "payload_unreadable" in result.output


def test_a_tampered_field_re_encrypted_by_an_insider_fails_the_seal(runner):
    """Even with the encryption key, changing a field without the seal key is caught."""
    certificate = create_certificate()
    payload = json.loads(payload_bytes(certificate))
    payload["fields"]["姓名"] = "冒名顶替"
    message = seals.canonical_json(payload)
    _store(
        certificate.id,
        payload_cipher=get_cipher().encrypt(message),
        payload_digest=seals.digest(message),
    )
    result = verify(runner, certificate.id)
    assert result.exit_code == 1 and "bad_signature" in result.output


def test_a_changed_digest_serial_or_expiry_column_fails(runner):
    certificate = create_certificate()
    _store(certificate.id, payload_digest="0" * 64)
    assert "digest_mismatch" in verify(runner, certificate.id).output
    second = create_certificate()
    _store(second.id, expires_on="2099-01-01")
    assert "columns_mismatch" in verify(runner, second.id).output


def test_a_changed_signature_byte_fails(runner):
    certificate = create_certificate()
    signature = bytearray(certificate.seals[0].signature)
    signature[5] ^= 0x80
    db.session.execute(
        text("UPDATE certificate_seals SET signature = :s WHERE id = :id"),
        {"s": bytes(signature), "id": certificate.seals[0].id},
    )
    db.session.commit()
    result = verify(runner, certificate.id)
    assert result.exit_code == 1 and "bad_signature" in result.output


def test_a_seal_moved_onto_another_departments_row_fails(runner):
    from tests.factories import create_department

    certificate = create_certificate()
    other = create_department()
    db.session.execute(
        text("UPDATE certificate_seals SET department_id = :d WHERE id = :id"),
        {"d": other.id, "id": certificate.seals[0].id},
    )
    db.session.commit()
    result = verify(runner, certificate.id)
    assert result.exit_code == 1 and "key_department_mismatch" in result.output
    assert db.session.get(Certificate, certificate.id) is not None
