"""Sealing and storing many certificates in one transaction, fast (imports, seeding).

The same payload and seals as ``certificate_store.seal_and_store``, but: serials reserved
in one block, each department's seal key decrypted once, holders looked up and created in
batches through the HMAC index, and rows written with multi-row INSERTs. Nothing here
validates; callers do, first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select

from backend import clock
from backend.extensions import db
from backend.models import (
    Certificate,
    CertificateSeal,
    CertificateType,
    Company,
    Department,
    Person,
)
from backend.security.crypto import get_cipher
from backend.services import seals
from backend.services.certificate_store import allocate_serials, build_payload, issued_in_sync
from backend.services.signers import get_signer

CHUNK = 2000
Progress = Callable[[int], None]


@dataclass
class BulkEntry:
    """One certificate to seal: the holder is already resolved to a row id."""

    holder_kind: str  # person | company
    holder_row_id: int
    holder_identifier: str  # ID number or credit code, as signed
    holder_name: str
    fields: dict[str, Any]
    issued_on: date
    expires_on: date | None = None
    paper_issued_at: datetime | None = None
    electronic_issued_at: datetime | None = None  # None: now (seeding sets history)
    source_key: str | None = None
    source: str | None = None  # None: the call's ``source``


def chunks(items: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- holders in batches --------------------------------------------------------------------


def find_persons(id_numbers: Iterable[str]) -> dict[str, tuple[int, str]]:
    """ID number → (person id, name), through the keyed-hash index, in batches."""
    cipher = get_cipher()
    by_hash = {cipher.index(n): n for n in set(id_numbers)}
    found: dict[str, tuple[int, str]] = {}
    for batch in chunks(list(by_hash)):
        rows = db.session.execute(
            select(Person.id, Person.id_number_hash, Person.name).where(
                Person.id_number_hash.in_(batch)
            )
        )
        for person_id, hashed, name in rows:
            found[by_hash[hashed]] = (person_id, name)
    return found


def create_persons(people: dict[str, str]) -> dict[str, int]:
    """Insert new persons (ID number → name), encrypted and indexed; ID number → new id."""
    cipher = get_cipher()
    now = clock.now()
    rows = [
        {
            "name": name,
            "id_number_cipher": cipher.encrypt_text(id_number),
            "id_number_hash": cipher.index(id_number),
            "phone_cipher": None,
            "created_at": now,
        }
        for id_number, name in people.items()
    ]
    ids: dict[str, int] = {}
    numbers = list(people)
    for start in range(0, len(rows), CHUNK):
        result = db.session.execute(
            insert(Person.__table__).returning(Person.__table__.c.id, sort_by_parameter_order=True),
            rows[start : start + CHUNK],
        )
        for offset, (person_id,) in enumerate(result):
            ids[numbers[start + offset]] = person_id
    return ids


def find_companies(credit_codes: Iterable[str]) -> dict[str, tuple[int, str]]:
    found: dict[str, tuple[int, str]] = {}
    for batch in chunks(list(set(credit_codes))):
        rows = db.session.execute(
            select(Company.id, Company.credit_code, Company.name).where(
                Company.credit_code.in_(batch)
            )
        )
        for company_id, code, name in rows:
            found[code] = (company_id, name)
    return found


def create_companies(companies: dict[str, str]) -> dict[str, int]:
    now = clock.now()
    codes = list(companies)
    rows = [{"name": companies[c], "credit_code": c, "created_at": now} for c in codes]
    ids: dict[str, int] = {}
    for start in range(0, len(rows), CHUNK):
        result = db.session.execute(
            insert(Company.__table__).returning(
                Company.__table__.c.id, sort_by_parameter_order=True
            ),
            rows[start : start + CHUNK],
        )
        for offset, (company_id,) in enumerate(result):
            ids[codes[start + offset]] = company_id
    return ids


def existing_source_keys(keys: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for batch in chunks(list(set(keys))):
        found.update(
            db.session.scalars(
                select(Certificate.source_key).where(Certificate.source_key.in_(batch))
            )
        )
    return found


def lock_serial_counter(cert_type: CertificateType, department: Department) -> None:
    """Hold the type's serial counter row until commit, so two imports of one type queue.

    Reserving zero serials takes the row lock without using a number.
    """
    allocate_serials(cert_type, department, 0)


# --- sealing and storing ------------------------------------------------------------------


def bulk_seal_and_store(
    cert_type: CertificateType,
    department: Department,
    entries: Sequence[BulkEntry],
    *,
    sealing_departments: Sequence[Department] = (),
    source: str = "imported",
    import_id: int | None = None,
    issued_by_id: int | None = None,
    progress: Progress | None = None,
) -> int:
    """Seal and insert every entry in the caller's transaction; returns how many."""
    if not entries:
        return 0
    sealers = [department] + [d for d in sealing_departments if d.id != department.id]
    materials = []
    for sealer in sealers:
        key, private = seals.signing_key_material(sealer)
        materials.append((sealer.id, key.key_id, key.algorithm, get_signer(key.algorithm), private))
    sealed_by = [d.code for d in sealers]
    serials = allocate_serials(cert_type, department, len(entries))
    cipher = get_cipher()
    now = clock.now()
    table = Certificate.__table__
    for start in range(0, len(entries), CHUNK):
        batch = entries[start : start + CHUNK]
        cert_rows: list[dict[str, Any]] = []
        signatures: list[list[tuple[int, str, str, bytes]]] = []
        for offset, entry in enumerate(batch):
            serial = serials[start + offset]
            payload = build_payload(
                serial=serial,
                cert_type=cert_type,
                department=department,
                holder={
                    "kind": entry.holder_kind,
                    "id": entry.holder_identifier,
                    "name": entry.holder_name,
                },
                fields=entry.fields,
                issued_on=entry.issued_on,
                expires_on=entry.expires_on,
                version=1,
                sealed_by=sealed_by,
            )
            message = seals.canonical_json(payload)
            electronic_at = entry.electronic_issued_at or now
            cert_rows.append(
                {
                    "serial": serial,
                    "type_id": cert_type.id,
                    "department_id": department.id,
                    "holder_person_id": entry.holder_row_id
                    if entry.holder_kind == "person"
                    else None,
                    "holder_company_id": entry.holder_row_id
                    if entry.holder_kind == "company"
                    else None,
                    "payload_cipher": cipher.encrypt(message),
                    "payload_digest": seals.digest(message),
                    "status": "valid",
                    "issued_on": entry.issued_on,
                    "expires_on": entry.expires_on,
                    "paper_issued_at": entry.paper_issued_at,
                    "electronic_issued_at": electronic_at,
                    "issued_in_sync": issued_in_sync(
                        cert_type, entry.paper_issued_at, electronic_at
                    ),
                    "version": 1,
                    "supersedes_id": None,
                    "source": entry.source or source,
                    "source_key": entry.source_key,
                    "revoked_at": None,
                    "revocation_reason": None,
                    "issued_by_id": issued_by_id,
                    "import_id": import_id,
                    "created_at": now,
                }
            )
            signatures.append(
                [
                    (dept_id, key_id, algorithm, signer.sign(private, message))
                    for dept_id, key_id, algorithm, signer, private in materials
                ]
            )
        ids = (
            db.session.execute(
                insert(table).returning(table.c.id, sort_by_parameter_order=True), cert_rows
            )
            .scalars()
            .all()
        )
        seal_rows = [
            {
                "certificate_id": certificate_id,
                "department_id": dept_id,
                "key_id": key_id,
                "algorithm": algorithm,
                "signature": value,
            }
            for certificate_id, sigs in zip(ids, signatures, strict=True)
            for dept_id, key_id, algorithm, value in sigs
        ]
        db.session.execute(insert(CertificateSeal.__table__), seal_rows)
        if progress is not None:
            progress(len(batch))
    return len(entries)
