"""Sealing, storing and re-checking certificates; the queries other domains need about them.

Issuing (validation of data against the type's schema, access rules, imports) builds on
this module; codes, exemption checks and campaigns read certificates through it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from backend import clock
from backend.extensions import db
from backend.models import (
    Certificate,
    CertificateSeal,
    CertificateType,
    Company,
    Department,
    Person,
    SealKey,
    SerialCounter,
    User,
)
from backend.security.crypto import get_cipher
from backend.services import seals
from backend.services.accounts import companies_of, person_id_number

SERIAL_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


# --- serial numbers -------------------------------------------------------------------------


def serial_check_char(body: str) -> str:
    """ISO 7064 MOD 37,36 check character over the serial's letters and digits."""
    p = 36
    for ch in body:
        if ch == "-":
            continue
        s = (p + SERIAL_ALPHABET.index(ch)) % 36 or 36
        p = (s * 2) % 37
    return SERIAL_ALPHABET[(37 - p) % 36]


def serial_is_valid(serial: str) -> bool:
    body, _, check = serial.rpartition("-")
    try:
        return bool(body) and len(check) == 1 and serial_check_char(body) == check
    except ValueError:
        return False


def format_serial(department: Department, cert_type: CertificateType, year: int, seq: int) -> str:
    """``PSB-001-2026-0000042-K``: department, type, year, sequence, check character."""
    body = f"{department.code.upper()}-{cert_type.id:03d}-{year}-{seq:07d}"
    return f"{body}-{serial_check_char(body)}"


def allocate_serials(
    cert_type: CertificateType, department: Department, count: int = 1, year: int | None = None
) -> list[str]:
    """Reserve ``count`` consecutive serials atomically (one UPDATE ... RETURNING)."""
    year = year or clock.now().year
    counters = SerialCounter.__table__  # Core: no ORM synchronisation needed on this hot path
    bump = (
        update(counters)
        .where(
            counters.c.type_id == cert_type.id,
            counters.c.department_id == department.id,
            counters.c.year == year,
        )
        .values(last=counters.c.last + count)
        .returning(counters.c.last)
    )
    last = db.session.execute(bump).scalar()
    if last is None:
        try:
            with db.session.begin_nested():
                db.session.add(
                    SerialCounter(
                        type_id=cert_type.id, department_id=department.id, year=year, last=count
                    )
                )
            last = count
        except IntegrityError:  # another transaction created the counter first
            last = db.session.execute(bump).scalar_one()
    first = last - count + 1
    return [format_serial(department, cert_type, year, n) for n in range(first, last + 1)]


# --- payload, sealing, storing -------------------------------------------------------------


Holder = Person | Company


def holder_identity(holder: Holder) -> dict[str, str]:
    if isinstance(holder, Person):
        return {"kind": "person", "id": person_id_number(holder), "name": holder.name}
    return {"kind": "company", "id": holder.credit_code, "name": holder.name}


def build_payload(
    *,
    serial: str,
    cert_type: CertificateType,
    department: Department,
    holder: dict[str, str],
    fields: dict[str, Any],
    issued_on: date,
    expires_on: date | None,
    version: int,
    sealed_by: list[str] | None = None,
) -> dict[str, Any]:
    """What gets signed. ``sealed_by`` (department codes) fixes which seals it needs."""
    return {
        "serial": serial,
        "type": cert_type.code,
        "issuer": department.code,
        "holder": holder,
        "fields": fields,
        "issued_on": issued_on.isoformat(),
        "expires_on": expires_on.isoformat() if expires_on else None,
        "version": version,
        "sealed_by": sealed_by or [department.code],
    }


def issued_in_sync(
    cert_type: CertificateType, paper_issued_at: datetime | None, electronic_issued_at: datetime
) -> bool:
    """Electronic within the type's issuing cycle after paper (local dates), or no paper."""
    if paper_issued_at is None:
        return True
    paper_day = paper_issued_at.astimezone(clock.SHANGHAI).date()
    electronic_day = electronic_issued_at.astimezone(clock.SHANGHAI).date()
    return (electronic_day - paper_day).days <= (cert_type.issuing_cycle_days or 0)


def seal_and_store(
    *,
    cert_type: CertificateType,
    department: Department,
    holder: Holder,
    fields: dict[str, Any],
    issued_on: date,
    expires_on: date | None = None,
    paper_issued_at: datetime | None = None,
    sealing_departments: Iterable[Department] = (),
    version: int = 1,
    supersedes: Certificate | None = None,
    source: str = "issued",
    source_key: str | None = None,
    serial: str | None = None,
    issued_by_id: int | None = None,
) -> Certificate:
    """Sign the canonical payload with every sealing department and add the row.

    No validation here: callers (issuing, import) validate first. Joins the caller's
    transaction; nothing is committed.
    """
    serial = serial or allocate_serials(cert_type, department)[0]
    departments = [department] + [d for d in sealing_departments if d.id != department.id]
    payload = build_payload(
        serial=serial,
        cert_type=cert_type,
        department=department,
        holder=holder_identity(holder),
        fields=fields,
        issued_on=issued_on,
        expires_on=expires_on,
        version=version,
        sealed_by=[d.code for d in departments],
    )
    message = seals.canonical_json(payload)
    now = clock.now()
    certificate = Certificate(
        serial=serial,
        type_id=cert_type.id,
        department_id=department.id,
        holder_person_id=holder.id if isinstance(holder, Person) else None,
        holder_company_id=holder.id if isinstance(holder, Company) else None,
        payload_cipher=get_cipher().encrypt(message),
        payload_digest=seals.digest(message),
        status="valid",
        issued_on=issued_on,
        expires_on=expires_on,
        paper_issued_at=paper_issued_at,
        electronic_issued_at=now,
        issued_in_sync=issued_in_sync(cert_type, paper_issued_at, now),
        version=version,
        supersedes_id=supersedes.id if supersedes else None,
        source=source,
        source_key=source_key,
        issued_by_id=issued_by_id,
    )
    for sealer in departments:
        signature = seals.sign(sealer, message)
        certificate.seals.append(
            CertificateSeal(
                department_id=sealer.id,
                key_id=signature.key_id,
                algorithm=signature.algorithm,
                signature=signature.value,
            )
        )
    db.session.add(certificate)
    db.session.flush()
    return certificate


def payload_bytes(certificate: Certificate) -> bytes:
    return get_cipher().decrypt(bytes(certificate.payload_cipher))


def read_payload(certificate: Certificate) -> dict[str, Any]:
    return orjson.loads(payload_bytes(certificate))


def certificate_fields(certificate: Certificate) -> dict[str, Any]:
    return read_payload(certificate)["fields"]


# --- checking --------------------------------------------------------------------------------


@dataclass
class CertificateCheck:
    """Whether every seal on a certificate verifies over its stored canonical bytes."""

    ok: bool
    reason: str  # ok | payload_unreadable | digest_mismatch | columns_mismatch | a seal reason
    seals: list[seals.SealCheck] = field(default_factory=list)
    # The payload as verified, when every seal verified: callers read fields from it
    # instead of decrypting and parsing the certificate a second time.
    payload: dict[str, Any] | None = None


def verify_certificate(
    certificate: Certificate,
    required_department_ids: Iterable[int] = (),
    keys: dict[str, SealKey] | None = None,
    department_codes: dict[int, str] | None = None,
) -> CertificateCheck:
    """Re-check a stored certificate against the trust list: any changed byte fails.

    ``keys`` (key id -> SealKey) and ``department_codes`` (id -> code of the sealing
    departments) let a caller that has already read them (a scan's one query) skip the
    look-ups.
    """
    try:
        message = payload_bytes(certificate)
    except Exception:  # tampered ciphertext fails AES-GCM authentication
        return CertificateCheck(False, "payload_unreadable")
    if seals.digest(message) != certificate.payload_digest:
        return CertificateCheck(False, "digest_mismatch")
    payload = orjson.loads(message)  # our own canonical JSON, its digest just checked
    expected = (
        certificate.serial,
        certificate.issued_on.isoformat(),
        certificate.expires_on.isoformat() if certificate.expires_on else None,
        certificate.version,
    )
    found = (payload["serial"], payload["issued_on"], payload["expires_on"], payload["version"])
    if expected != found:
        return CertificateCheck(False, "columns_mismatch")
    if keys is None:
        keys = seals.load_keys({s.key_id for s in certificate.seals})
    checks = [
        seals.check(keys.get(s.key_id), s.key_id, message, bytes(s.signature))
        if keys.get(s.key_id) is None or keys[s.key_id].department_id == s.department_id
        else seals.SealCheck(False, "key_department_mismatch", s.key_id)
        for s in certificate.seals
    ]
    sealed_by = {s.department_id for s in certificate.seals}
    if not checks or not set(required_department_ids) <= sealed_by:
        return CertificateCheck(False, "missing_seal", checks)
    # The signed payload names every department whose seal it needs (joint issuance).
    required_codes = set(payload.get("sealed_by") or [payload["issuer"]])
    if department_codes is None:
        found_codes = _department_codes(sealed_by)
    else:
        found_codes = {department_codes[d] for d in sealed_by if d in department_codes}
    if not required_codes <= found_codes:
        return CertificateCheck(False, "missing_seal", checks)
    failed = next((c for c in checks if not c.ok), None)
    if failed is not None:
        return CertificateCheck(False, failed.reason, checks)
    return CertificateCheck(True, "ok", checks, payload)


def _department_codes(department_ids: set[int]) -> set[str]:
    if not department_ids:
        return set()
    return set(db.session.scalars(select(Department.code).where(Department.id.in_(department_ids))))


def effective_status(certificate: Certificate, today: date | None = None) -> str:
    """valid | expired | revoked | superseded."""
    if certificate.status != "valid":
        return certificate.status
    today = today or clock.now().astimezone(clock.SHANGHAI).date()
    if certificate.expires_on is not None and certificate.expires_on < today:
        return "expired"
    return "valid"


# --- holder queries --------------------------------------------------------------------------


def holder_ids(user: User) -> tuple[int | None, list[int]]:
    """The person a user is, and the companies they represent."""
    return user.person_id, [c.id for c in companies_of(user)]


def _holder_filter(person_id: int | None, company_ids: Iterable[int]):
    company_ids = list(company_ids)
    clauses = []
    if person_id is not None:
        clauses.append(Certificate.holder_person_id == person_id)
    if company_ids:
        clauses.append(Certificate.holder_company_id.in_(company_ids))
    return or_(*clauses) if clauses else None


def holder_filter(person_id: int | None, company_ids: Iterable[int]):
    """SQL condition for "held by this person or one of these companies" (None: nobody)."""
    return _holder_filter(person_id, company_ids)


def certificates_of(person_id: int | None, company_ids: Iterable[int] = ()) -> list[Certificate]:
    """Every current (not superseded) certificate of a person and their companies."""
    where = _holder_filter(person_id, company_ids)
    if where is None:
        return []
    return list(
        db.session.scalars(
            select(Certificate)
            .where(where, Certificate.status != "superseded")
            .order_by(Certificate.type_id, Certificate.id)
        )
    )


def valid_certificates_of(
    person_id: int | None, company_ids: Iterable[int] = (), type_codes: Iterable[str] | None = None
) -> list[Certificate]:
    """Certificates that are valid today (not revoked, superseded or expired)."""
    where = _holder_filter(person_id, company_ids)
    if where is None:
        return []
    today = clock.now().astimezone(clock.SHANGHAI).date()
    query = (
        select(Certificate)
        .where(
            where,
            Certificate.status == "valid",
            or_(Certificate.expires_on.is_(None), Certificate.expires_on >= today),
        )
        .order_by(Certificate.type_id, Certificate.id)
    )
    if type_codes is not None:
        query = query.join(CertificateType).where(CertificateType.code.in_(list(type_codes)))
    return list(db.session.scalars(query))


def held_valid_type_codes(person_id: int | None, company_ids: Iterable[int] = ()) -> set[str]:
    """Type codes of the certificates a holder can use today (exemption checks)."""
    return {c.type.code for c in valid_certificates_of(person_id, company_ids)}
