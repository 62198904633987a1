"""After a compromised key is revoked, still-valid certificates are re-sealed with the new key."""

from datetime import date

import pytest

from backend.errors import Conflict
from backend.extensions import db
from backend.models import Certificate
from backend.services import seals
from backend.services.certificate_issuing import revoke_certificate
from backend.services.certificate_reseal import reseal_certificates
from backend.services.certificate_store import verify_certificate
from tests.factories import create_certificate


def _reload(certificate_id: int) -> Certificate:
    return db.session.get(Certificate, certificate_id)


def test_a_revoked_keys_valid_certificates_are_resealed_once_in_batches():
    first = create_certificate()
    cert_type = first.type
    others = [create_certificate(cert_type=cert_type) for _ in range(4)]
    expired = create_certificate(
        cert_type=cert_type, issued_on=date(2010, 1, 1), expires_on=date(2011, 1, 1)
    )
    revoked = create_certificate(cert_type=cert_type)
    revoke_certificate(None, revoked.id, "错误")
    old_key = first.seals[0].key_id
    ids = [first.id] + [c.id for c in others]
    with pytest.raises(Conflict):  # the current key is not taken out of service this way
        reseal_certificates(old_key)
    seals.revoke_seal_key(old_key, "私钥泄露")
    assert verify_certificate(_reload(first.id)).reason == "key_revoked"

    report = reseal_certificates(old_key, batch_size=2)
    assert report.resealed == 5 and report.unreadable == []
    for certificate_id in ids:
        certificate = _reload(certificate_id)
        assert certificate.seals[0].key_id != old_key
        assert verify_certificate(certificate).ok
    # Revoked and expired certificates are left as they were.
    assert _reload(revoked.id).seals[0].key_id == old_key
    assert _reload(expired.id).seals[0].key_id == old_key
    # Running again re-seals nothing.
    assert reseal_certificates(old_key).resealed == 0


def test_the_command_reseals_and_reports(runner):
    certificate = create_certificate()
    old_key = certificate.seals[0].key_id
    seals.revoke_seal_key(old_key, "私钥泄露")
    result = runner.invoke(args=["reseal-certificates", "--key-id", old_key])
    assert result.exit_code == 0, result.output
    assert f"key {old_key}: 1 certificates re-sealed" in result.output
    assert verify_certificate(_reload(certificate.id)).ok
    missing = runner.invoke(args=["reseal-certificates", "--key-id", "nope"])
    assert missing.exit_code != 0 and "seal_key_not_found" in missing.output
