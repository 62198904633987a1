"""Signing offline codes for holders, and checking them online against the trust list.

The format and the check live in ``offline_verifier`` (no database); this module adds
the parts that need one: the holder's certificate, the department's seal key.
"""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from backend import clock
from backend.errors import AppError, NotFound, UnprocessableEntity
from backend.extensions import db
from backend.models import Certificate, CompanyRepresentative, Department, SealKey, User
from backend.services import rate_limits, seals
from backend.services.certificate_store import (
    certificate_fields,
    effective_status,
    verify_certificate,
)
from backend.services.offline_verifier import (
    MAX_TTL_S,
    VERSION,
    OfflineCode,
    OfflineCodeRejected,
    TrustList,
    b64url,
    encode,
    key_id_of,
    verify_offline_code,
)
from backend.services.signers import get_signer
from backend.services.tx import transactional

MIN_TTL_S = 30


def _own_certificate(user: User, certificate_id: int) -> Certificate:
    certificate = db.session.scalar(
        select(Certificate)
        .options(joinedload(Certificate.type), joinedload(Certificate.seals))
        .where(Certificate.id == certificate_id)
    )
    own = certificate is not None and (
        (certificate.holder_person_id and certificate.holder_person_id == user.person_id)
        or (
            certificate.holder_company_id
            and db.session.scalar(
                select(CompanyRepresentative.id).where(
                    CompanyRepresentative.user_id == user.id,
                    CompanyRepresentative.company_id == certificate.holder_company_id,
                )
            )
        )
    )
    if not own:
        raise NotFound("证照不存在", code="certificate_not_found", field="certificate_id")
    return certificate


@transactional  # signing may create the department's first seal key
def issue_offline_code(
    user: User, certificate_id: int, fields: list[str], ttl_s: int | None = None
) -> dict[str, Any]:
    """A signed code carrying only the fields the holder chose, valid at most 5 minutes."""
    rate_limits.hit(rate_limits.OFFLINE_CODES, f"user:{user.id}")
    ttl = MAX_TTL_S if ttl_s is None else ttl_s
    if not MIN_TTL_S <= ttl <= MAX_TTL_S:
        raise UnprocessableEntity(
            f"有效期须在 {MIN_TTL_S} 至 {MAX_TTL_S} 秒之间", code="invalid_ttl", field="ttl_s"
        )
    certificate = _own_certificate(user, certificate_id)
    unknown = [f for f in fields if f not in certificate.type.field_names()]
    if unknown:
        raise UnprocessableEntity(
            f"证照没有字段:{'、'.join(unknown)}", code="unknown_field", field="fields"
        )
    status = effective_status(certificate)
    if status != "valid":
        raise UnprocessableEntity(
            "证照已失效,不能生成离线码", code="certificate_not_valid", status=status
        )
    if not verify_certificate(certificate).ok:
        raise UnprocessableEntity("证照签章校验未通过", code="seal_invalid")
    values = certificate_fields(certificate)
    department = db.session.get(Department, certificate.department_id)
    key, private = seals.signing_key_material(department)
    now = int(clock.now().timestamp())
    payload = {
        "v": VERSION,
        "k": key.key_id,
        "s": department.code,
        "t": certificate.type.code,
        "d": b64url(bytes.fromhex(certificate.payload_digest)),
        "f": {name: values.get(name) for name in fields},
        "i": now,
        "e": now + ttl,
        "n": b64url(os.urandom(9)),
    }
    signer = get_signer(key.algorithm)
    text = encode(payload, lambda message: signer.sign(private, message))
    return {
        "code": text,
        "length": len(text),
        "key_id": key.key_id,
        "issued_at": _local(now),
        "expires_at": _local(now + ttl),
        "ttl_s": ttl,
    }


def _local(epoch: int) -> str | None:
    return clock.to_local(datetime.fromtimestamp(epoch, UTC))


def check_offline_code(text: str, client: str) -> dict[str, Any]:
    """Online check of an offline code against the current state of its seal key."""
    rate_limits.hit(rate_limits.OFFLINE_VERIFY, client)
    key_id = key_id_of(text)
    keys = (
        db.session.scalars(
            select(SealKey).options(joinedload(SealKey.department)).where(SealKey.key_id == key_id)
        )
        if key_id
        else []
    )
    try:
        code = verify_offline_code(
            text, TrustList(seals.present_key(k) for k in keys), now=clock.now().timestamp()
        )
    except OfflineCodeRejected as exc:
        raise AppError(exc.message, code=exc.code, status_code=exc.status, field="code") from exc
    return present_offline_code(code)


def present_offline_code(code: OfflineCode) -> dict[str, Any]:
    return {
        "valid": True,
        "type": code.type_code,
        "issuer": code.issuer,
        "key_id": code.key_id,
        "certificate_digest": base64.urlsafe_b64decode(
            code.certificate_digest + "=" * (-len(code.certificate_digest) % 4)
        ).hex(),
        "fields": code.fields,
        "issued_at": _local(code.issued_at),
        "expires_at": _local(code.expires_at),
    }
