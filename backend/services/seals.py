"""Department seals: key generation, rotation, retirement, revocation, signing, the trust list.

Private keys are stored encrypted with the data-encryption key (AES-GCM, the key id as
associated data so a key blob cannot be swapped onto another row).
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from backend import clock
from backend.errors import Conflict, NotFound
from backend.extensions import db
from backend.models import Department, SealKey
from backend.security.canonical import canonical_json, digest  # noqa: F401  (re-exported)
from backend.security.crypto import get_cipher
from backend.services.signers import DEFAULT_ALGORITHM, get_signer
from backend.services.tx import transactional

DEFAULT_KEY_VALIDITY = timedelta(days=5 * 365)


@dataclass(frozen=True)
class Signature:
    department_id: int
    key_id: str
    algorithm: str
    value: bytes

    @property
    def b64(self) -> str:
        return base64.b64encode(self.value).decode()


@dataclass(frozen=True)
class SealCheck:
    ok: bool
    reason: str  # ok | unknown_key | key_revoked | key_retired | bad_signature
    key_id: str


def _new_key_id(department: Department) -> str:
    return f"{department.code}-{clock.now():%Y%m%d}-{os.urandom(3).hex()}"


def _current(department_id: int) -> SealKey | None:
    return db.session.scalar(
        select(SealKey)
        .where(SealKey.department_id == department_id, SealKey.status == "current")
        .order_by(SealKey.id.desc())
        .limit(1)
    )


@transactional
def generate_seal_key(
    department: Department, algorithm: str = DEFAULT_ALGORITHM, validity=DEFAULT_KEY_VALIDITY
) -> SealKey:
    """Create the department's new signing key; the previous current key keeps verifying."""
    previous = _current(department.id)
    if previous is not None:
        previous.status = "previous"
    private, public = get_signer(algorithm).generate()
    key_id = _new_key_id(department)
    now = clock.now()
    key = SealKey(
        key_id=key_id,
        department_id=department.id,
        algorithm=algorithm,
        public_key=public,
        private_key_cipher=get_cipher().encrypt(private, key_id.encode()),
        status="current",
        valid_from=now,
        valid_until=now + validity,
    )
    db.session.add(key)
    db.session.flush()
    return key


rotate_seal_key = generate_seal_key


def _by_key_id(key_id: str) -> SealKey:
    key = db.session.scalar(select(SealKey).where(SealKey.key_id == key_id))
    if key is None:
        raise NotFound("印章密钥不存在", code="seal_key_not_found")
    return key


@transactional
def retire_seal_key(key_id: str) -> SealKey:
    key = _by_key_id(key_id)
    if key.status == "current":
        raise Conflict(
            "当前签章密钥不能直接退役,请先轮换", code="invalid_state", current_state="current"
        )
    if key.status == "revoked":
        raise Conflict("密钥已吊销", code="invalid_state", current_state="revoked")
    key.status = "retired"
    key.retired_at = clock.now()
    return key


@transactional
def revoke_seal_key(key_id: str, reason: str) -> SealKey:
    """Compromise: nothing the key signed is trusted any more."""
    key = _by_key_id(key_id)
    key.status = "revoked"
    key.revoked_at = clock.now()
    key.revocation_reason = reason[:200]
    return key


def ensure_seal_key(department: Department) -> SealKey:
    """The department's current key, created on first use."""
    return _current(department.id) or generate_seal_key(department)


def sign(department: Department, message: bytes) -> Signature:
    """Sign with the department's current key (created if it has none)."""
    key = ensure_seal_key(department)
    private = get_cipher().decrypt(key.private_key_cipher, key.key_id.encode())
    value = get_signer(key.algorithm).sign(private, message)
    return Signature(department.id, key.key_id, key.algorithm, value)


def signing_key_material(department: Department) -> tuple[SealKey, bytes]:
    """The current key and its decrypted private bytes, for bulk signing in one service call."""
    key = ensure_seal_key(department)
    return key, get_cipher().decrypt(key.private_key_cipher, key.key_id.encode())


def load_keys(key_ids: set[str]) -> dict[str, SealKey]:
    if not key_ids:
        return {}
    return {
        k.key_id: k for k in db.session.scalars(select(SealKey).where(SealKey.key_id.in_(key_ids)))
    }


def check(key: SealKey | None, key_id: str, message: bytes, signature: bytes) -> SealCheck:
    """Verify one signature against a stored key, honouring the key's state."""
    if key is None:
        return SealCheck(False, "unknown_key", key_id)
    if key.status == "revoked":
        return SealCheck(False, "key_revoked", key_id)
    if key.status == "retired":
        return SealCheck(False, "key_retired", key_id)
    if not get_signer(key.algorithm).verify(key.public_key, message, signature):
        return SealCheck(False, "bad_signature", key_id)
    return SealCheck(True, "ok", key_id)


def verify(key_id: str, message: bytes, signature: bytes) -> SealCheck:
    return check(load_keys({key_id}).get(key_id), key_id, message, signature)


def present_key(key: SealKey) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "department": {"code": key.department.code, "name": key.department.name},
        "algorithm": key.algorithm,
        "public_key": base64.b64encode(key.public_key).decode(),
        "status": key.status,
        "valid_from": clock.to_local(key.valid_from),
        "valid_until": clock.to_local(key.valid_until),
        "revoked_at": clock.to_local(key.revoked_at),
    }


def trust_list() -> list[dict[str, Any]]:
    """Every key an offline verifier needs, with its state (revoked keys are listed as such)."""
    keys = db.session.scalars(select(SealKey).order_by(SealKey.department_id, SealKey.id))
    return [present_key(k) for k in keys]
