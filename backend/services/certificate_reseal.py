"""Re-sealing after a key is taken out of service (a compromised key is revoked).

Every still-valid certificate carrying a seal made with that key gets a new signature over the
same stored canonical bytes, made with the same department's current key: the payload names
the department (``sealed_by``), so it must be that department's seal again. Batches of
``batch_size`` seals, each in its own transaction, so a large run holds no long locks and a
run that stops half way is simply started again: a re-sealed seal no longer names the old key,
so running twice re-seals nothing twice.

What is re-signed is the stored payload: encrypted with the data key (AES-GCM, so a changed
byte cannot be decrypted) and checked against its stored digest first. Holding a leaked seal
key does not let anyone write those rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from backend import clock
from backend.errors import Conflict, NotFound
from backend.extensions import db
from backend.models import Certificate, CertificateSeal, Department, SealKey
from backend.services import seals
from backend.services.certificate_store import payload_bytes
from backend.services.signers import get_signer
from backend.services.tx import transactional


@dataclass
class ResealReport:
    key_id: str
    resealed: int = 0
    # Certificates whose stored payload no longer reads back: left as they are, listed.
    unreadable: list[int] = field(default_factory=list)


def _old_key(key_id: str) -> SealKey:
    key = db.session.scalar(select(SealKey).where(SealKey.key_id == key_id))
    if key is None:
        raise NotFound("印章密钥不存在", code="seal_key_not_found")
    if key.status == "current":
        raise Conflict(
            "当前签章密钥仍在使用,请先轮换或吊销", code="invalid_state", current_state="current"
        )
    return key


def _pending(key_id: str, after_id: int, limit: int) -> list[CertificateSeal]:
    """Seals still made with the old key on certificates that are valid today."""
    today = clock.now().astimezone(clock.SHANGHAI).date()
    return list(
        db.session.scalars(
            select(CertificateSeal)
            .join(Certificate, Certificate.id == CertificateSeal.certificate_id)
            .where(
                CertificateSeal.key_id == key_id,
                CertificateSeal.id > after_id,
                Certificate.status == "valid",
                (Certificate.expires_on.is_(None)) | (Certificate.expires_on >= today),
            )
            .order_by(CertificateSeal.id)
            .limit(limit)
        )
    )


@transactional
def _reseal_batch(key_id: str, after_id: int, limit: int, report: ResealReport) -> int | None:
    """Re-seal one batch; the last seal id looked at, or None when nothing was left."""
    batch = _pending(key_id, after_id, limit)
    if not batch:
        return None
    keys: dict[int, tuple[SealKey, bytes]] = {}
    for seal in batch:
        certificate = db.session.get(Certificate, seal.certificate_id)
        try:
            message = payload_bytes(certificate)
        except Exception:  # AES-GCM refuses a changed ciphertext
            message = None
        if message is None or seals.digest(message) != certificate.payload_digest:
            report.unreadable.append(certificate.id)
            continue
        if seal.department_id not in keys:
            department = db.session.get(Department, seal.department_id)
            keys[seal.department_id] = seals.signing_key_material(department)
        key, private = keys[seal.department_id]
        seal.key_id = key.key_id
        seal.algorithm = key.algorithm
        seal.signature = get_signer(key.algorithm).sign(private, message)
        report.resealed += 1
    return batch[-1].id


def reseal_certificates(key_id: str, batch_size: int = 500, progress=None) -> ResealReport:
    """Re-seal every still-valid certificate sealed with ``key_id`` (not the current key)."""
    _old_key(key_id)
    db.session.rollback()  # each batch is its own transaction
    report = ResealReport(key_id)
    after = 0
    while (after := _reseal_batch(key_id, after, batch_size, report)) is not None:
        if progress is not None:
            progress(report)
    return report
