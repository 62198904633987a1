"""Sealing and storing many certificates in one transaction, fast (imports, seeding).

The same payload and seals as ``certificate_store.seal_and_store``, but: serials reserved
in one block, each department's seal key decrypted once, holders looked up and created in
batches through the HMAC index, rows streamed to the database (``bulk_writes``), and for
large batches a helper process sealing on the second core (``sealing_helper``). Nothing
here validates; callers do, first.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import select

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
from backend.services.bulk_writes import (
    copy_rows,
    insert_rows,
    is_postgresql,
    member_of,
    reserve_ids,
)
from backend.services.certificate_store import allocate_serials, build_payload, issued_in_sync
from backend.services.sealing_helper import SealingHelper, seal_payloads, sealing_helper

CHUNK = 2000
# From this many certificates on, a helper process shares the sealing (see sealing_helper).
HELPER_THRESHOLD = 20_000
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


def chunks(items: Sequence, size: int | None = None) -> Iterable[Sequence]:
    size = size or CHUNK
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
                member_of(Person.id_number_hash, batch)
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
    return dict(zip(people, insert_rows(Person.__table__, rows, returning_ids=True), strict=True))


def find_companies(credit_codes: Iterable[str]) -> dict[str, tuple[int, str]]:
    found: dict[str, tuple[int, str]] = {}
    for batch in chunks(list(set(credit_codes))):
        rows = db.session.execute(
            select(Company.id, Company.credit_code, Company.name).where(
                member_of(Company.credit_code, batch)
            )
        )
        for company_id, code, name in rows:
            found[code] = (company_id, name)
    return found


def create_companies(companies: dict[str, str]) -> dict[str, int]:
    now = clock.now()
    rows = [
        {"name": name, "credit_code": code, "created_at": now} for code, name in companies.items()
    ]
    return dict(
        zip(companies, insert_rows(Company.__table__, rows, returning_ids=True), strict=True)
    )


def existing_source_keys(keys: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for batch in chunks(list(set(keys))):
        found.update(
            db.session.scalars(
                select(Certificate.source_key).where(member_of(Certificate.source_key, batch))
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
    helper: SealingHelper | None = None,
) -> int:
    """Seal and insert every entry in the caller's transaction; returns how many.

    From ``HELPER_THRESHOLD`` entries on, a helper process seals every other chunk (the
    caller may pass one it started earlier, from ``start_sealing_helper``).
    """
    if not entries:
        return 0
    sealers = [department] + [d for d in sealing_departments if d.id != department.id]
    signing = helper.signing if helper is not None else signing_keys(sealers)
    serials = allocate_serials(cert_type, department, len(entries))
    batch = _Batch(
        cert_type=cert_type,
        department=department,
        sealed_by=[d.code for d in sealers],
        signing=signing,
        defaults={"source": source, "import_id": import_id, "issued_by_id": issued_by_id},
    )
    if helper is None and wants_helper(len(entries)):
        with start_sealing_helper(department, sealing_departments) as helper:
            _store_rows(batch.rows(entries, serials, helper), len(entries), progress)
    else:
        _store_rows(batch.rows(entries, serials, helper), len(entries), progress)
    return len(entries)


def wants_helper(count: int) -> bool:
    return count >= HELPER_THRESHOLD and (os.cpu_count() or 1) > 1


def signing_keys(sealers: Sequence[Department]) -> list[tuple[int, str, str, bytes]]:
    """(department id, key id, algorithm, private key) of each sealer's current key,
    each decrypted once for the whole batch."""
    signing = []
    for sealer in sealers:
        key, private = seals.signing_key_material(sealer)
        signing.append((sealer.id, key.key_id, key.algorithm, private))
    return signing


def start_sealing_helper(department: Department, sealing_departments: Sequence[Department] = ()):
    """A sealing helper process holding the keys these departments seal with now."""
    sealers = [department] + [d for d in sealing_departments if d.id != department.id]
    return sealing_helper(current_app.config["DATA_ENCRYPTION_KEY"], signing_keys(sealers))


def _store_rows(sealed: Iterator[tuple[dict, list]], count: int, progress: Progress | None) -> None:
    table, seal_table = Certificate.__table__, CertificateSeal.__table__
    if is_postgresql():
        ids = reserve_ids(table, count)
        seal_rows: list[dict[str, Any]] = []

        def numbered():
            for n, (row, signatures) in enumerate(sealed):
                row["id"] = ids[n]
                seal_rows.extend(_seal_row(ids[n], s) for s in signatures)
                if progress is not None and n % CHUNK == CHUNK - 1:
                    progress(CHUNK)
                yield row

        copy_rows(table, numbered())  # streamed: the server ingests while rows are sealed
        copy_rows(seal_table, seal_rows)
        if progress is not None and count % CHUNK:
            progress(count % CHUNK)
        return
    pending: list[tuple[dict[str, Any], list]] = []
    for n, item in enumerate(sealed, start=1):
        pending.append(item)
        if len(pending) == CHUNK or n == count:
            ids = insert_rows(table, [row for row, _ in pending], returning_ids=True)
            insert_rows(
                seal_table,
                [_seal_row(i, s) for i, (_, sigs) in zip(ids, pending, strict=True) for s in sigs],
            )
            if progress is not None:
                progress(len(pending))
            pending = []


def _seal_row(certificate_id: int, signature: tuple[int, str, str, bytes]) -> dict[str, Any]:
    department_id, key_id, algorithm, value = signature
    return {
        "certificate_id": certificate_id,
        "department_id": department_id,
        "key_id": key_id,
        "algorithm": algorithm,
        "signature": value,
    }


@dataclass
class _Batch:
    """What every certificate of one bulk call shares."""

    cert_type: CertificateType
    department: Department
    sealed_by: list[str]
    signing: list[tuple[int, str, str, bytes]]  # department id, key id, algorithm, private
    defaults: dict[str, Any]

    def payload(self, entry: BulkEntry, serial: str) -> dict[str, Any]:
        return build_payload(
            serial=serial,
            cert_type=self.cert_type,
            department=self.department,
            holder={
                "kind": entry.holder_kind,
                "id": entry.holder_identifier,
                "name": entry.holder_name,
            },
            fields=entry.fields,
            issued_on=entry.issued_on,
            expires_on=entry.expires_on,
            version=1,
            sealed_by=self.sealed_by,
        )

    def rows(self, entries, serials, helper: SealingHelper | None):
        """(certificate row, its signatures) per entry, in order. With a helper, chunks go
        in pairs: the helper seals the second while this process seals the first."""
        cipher = get_cipher()
        keys = [(algorithm, private) for _, _, algorithm, private in self.signing]
        spans = iter(list(chunks(range(len(entries)))))
        for first in spans:
            second = next(spans, None)
            future = None
            if helper is not None and second is not None:
                future = helper.submit([self.payload(entries[i], serials[i]) for i in second])
            for span, sealed in ((first, None), (second, future)):
                if span is None:
                    continue
                if sealed is None:
                    payloads = [self.payload(entries[i], serials[i]) for i in span]
                    results = seal_payloads(payloads, cipher, keys)
                else:
                    results = sealed.result()
                yield from self._rows(entries, serials, span, results)

    def _rows(self, entries, serials, span, results):
        now = clock.now()
        cert_type, department = self.cert_type, self.department
        for i, (payload_cipher, payload_digest, signatures) in zip(span, results, strict=True):
            entry = entries[i]
            electronic_at = entry.electronic_issued_at or now
            is_person = entry.holder_kind == "person"
            row = {
                "serial": serials[i],
                "type_id": cert_type.id,
                "department_id": department.id,
                "holder_person_id": entry.holder_row_id if is_person else None,
                "holder_company_id": None if is_person else entry.holder_row_id,
                "payload_cipher": payload_cipher,
                "payload_digest": payload_digest,
                "status": "valid",
                "issued_on": entry.issued_on,
                "expires_on": entry.expires_on,
                "paper_issued_at": entry.paper_issued_at,
                "electronic_issued_at": electronic_at,
                "issued_in_sync": issued_in_sync(cert_type, entry.paper_issued_at, electronic_at),
                "version": 1,
                "source": entry.source or self.defaults["source"],
                "source_key": entry.source_key,
                "issued_by_id": self.defaults["issued_by_id"],
                "import_id": self.defaults["import_id"],
                "created_at": now,
            }
            sealed = [
                (dept_id, key_id, algorithm, value)
                for (dept_id, key_id, algorithm, _), value in zip(
                    self.signing, signatures, strict=True
                )
            ]
            yield row, sealed
