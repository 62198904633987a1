"""Storing one issued certificate in as few statements as the database allows.

``certificate_issuing.issue_certificate`` validates; this module finds or creates the
holder, takes a serial, seals, and writes. Three ways, with the same result:

- PostgreSQL, when the call is its own transaction and the request's session has not begun
  one (an API request): one statement finds or creates the holder (``INSERT ... ON CONFLICT
  DO NOTHING``), checks the cached profile is still true (the type's revision, every key
  ``current``) and writes the certificate with its seals, in autocommit on the worker
  thread's own connection (``db_pool.OwnAutocommitConnections``): one round trip, no BEGIN
  or COMMIT, atomic and durable as a statement is (``store_autocommit``; the first call of a
  type in a worker reads its profile in the session, as below). The serial comes from a
  block this worker reserved beforehand.
- PostgreSQL, when the call is its own transaction but the session already has one open
  (it has read something, or holds changes a commit must include): the same statement in
  the session's transaction, pipelined with its BEGIN, then the session commits.
- Otherwise (SQLite, or a call inside a larger transaction, such as the seed): the profile
  is checked by one query first, then the ORM path of ``certificate_store``, with the serial
  taken from the counter row in the caller's transaction (gap-free).

Serial blocks: a worker reserves consecutive serials of a (type, department, year) in a
short transaction of its own, so concurrent issuers of one type never wait on the counter
row until commit. The price: serials are unique but not gap-free (a worker that exits, or a
transaction that fails after taking its serial, leaves numbers unused) and, across workers,
not in issuing order. A block grows from ``FIRST_BLOCK`` to ``MAX_BLOCK`` as a worker keeps
issuing a type, so a worker that issues rarely wastes few numbers.
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import manager_of_class

from backend import clock
from backend.db_pool import as_sqlalchemy_errors
from backend.errors import UnprocessableEntity
from backend.extensions import db
from backend.models import Certificate, CertificateSeal, CertificateType, SealKey
from backend.security.crypto import get_cipher
from backend.services import accounts, seals
from backend.services.certificate_store import (
    allocate_serials,
    build_payload,
    format_serial,
    issued_in_sync,
)
from backend.services.issuing_profiles import IssuingProfile
from backend.services.signers import get_signer

FIRST_BLOCK = 8
MAX_BLOCK = 256
# A block is reserved on its own connection; never wait long on the counter row (a caller
# that already locked it in its own transaction would otherwise wait for itself).
BLOCK_LOCK_TIMEOUT = "2s"


def fast_path_usable() -> bool:
    """PostgreSQL, and no caller transaction around this one (decided before any write)."""
    return db.engine.dialect.name == "postgresql" and not db.session.info.get("in_transaction")


@dataclass(frozen=True)
class IssueData:
    """Validated input of one certificate."""

    holder_kind: str
    identifier: str  # normalised ID number or credit code
    holder_name: str
    fields: dict[str, Any]
    issued_on: date
    expires_on: date | None
    paper_issued_at: datetime | None
    issued_by_id: int | None


def store(profile: IssuingProfile, data: IssueData, *, fast: bool, checked: bool):
    """The stored Certificate, or None when the cached profile turned out stale.

    ``checked``: the profile was read in this transaction, so it needs no re-check.
    """
    if fast:
        return _store_fast(profile, data, checked)
    return _store_portable(profile, data, checked)


# --- sealing (both paths) --------------------------------------------------------------------


def _seal(profile: IssuingProfile, data: IssueData, serial: str, holder: dict[str, str]):
    payload = build_payload(
        serial=serial,
        cert_type=profile,
        department=profile.issuer,
        holder=holder,
        fields=data.fields,
        issued_on=data.issued_on,
        expires_on=data.expires_on,
        version=1,
        sealed_by=profile.sealed_by,
    )
    message = seals.canonical_json(payload)
    signatures = [get_signer(s.algorithm).sign(s.private, message) for s in profile.sealers]
    return message, signatures


# --- PostgreSQL ------------------------------------------------------------------------------

_BLOCK_SQL = """
INSERT INTO serial_counters (type_id, department_id, year, last)
VALUES (%(type_id)s, %(department_id)s, %(year)s, %(count)s)
ON CONFLICT (type_id, department_id, year)
DO UPDATE SET last = serial_counters.last + EXCLUDED.last
RETURNING last
"""

# The holder (found, or created when new), the certificate and its seals in one statement.
# Nothing is written unless the cache check holds (or the profile was read in this
# transaction): the type still at the profile's revision and every key the profile signed
# with still current. The certificate is written only if the holder's stored name is the one
# that was signed (a person's must match anyway: identity_mismatch). The first row tells
# the caller which of these failed.
_HOLDER_SQL = {
    "person": """
    h_ins AS (
        INSERT INTO persons (name, id_number_cipher, id_number_hash, created_at)
        SELECT %(holder_name)s::varchar, %(holder_cipher)s::bytea, %(holder_key)s::varchar,
            %(now)s::timestamp
        FROM ok WHERE ok.ok
        ON CONFLICT (id_number_hash) DO NOTHING
        RETURNING id, name
    ), h AS (
        SELECT id, name FROM h_ins
        UNION ALL
        SELECT id, name FROM persons WHERE id_number_hash = %(holder_key)s
    )""",
    "company": """
    h_ins AS (
        INSERT INTO companies (name, credit_code, created_at)
        SELECT %(holder_name)s::varchar, %(holder_key)s::varchar, %(now)s::timestamp
        FROM ok WHERE ok.ok
        ON CONFLICT (credit_code) DO NOTHING
        RETURNING id, name
    ), h AS (
        SELECT id, name FROM h_ins
        UNION ALL
        SELECT id, name FROM companies WHERE credit_code = %(holder_key)s
    )""",
}
_INSERT_SQL = """
WITH ok AS (
    SELECT %(checked)s::boolean OR (
        (SELECT revision FROM certificate_types WHERE id = %(type_id)s::integer)
            = %(revision)s::varchar
        AND (SELECT count(*) FROM seal_keys WHERE key_id IN ({key_ids}) AND status = 'current')
            = {key_count}
    ) AS ok
), {holder}, c AS (
    INSERT INTO certificates (
        serial, type_id, department_id, holder_person_id, holder_company_id,
        payload_cipher, payload_digest, status, issued_on, expires_on, paper_issued_at,
        electronic_issued_at, issued_in_sync, version, source, issued_by_id, created_at
    )
    SELECT %(serial)s::varchar, %(type_id)s::integer, %(department_id)s::integer,
        {person_id}, {company_id},
        %(payload_cipher)s::bytea, %(payload_digest)s::varchar, 'valid', %(issued_on)s::date,
        %(expires_on)s::date, %(paper_issued_at)s::timestamp, %(now)s::timestamp,
        %(issued_in_sync)s::boolean, 1, 'issued', %(issued_by_id)s::integer, %(now)s::timestamp
    FROM h, ok
    WHERE ok.ok AND h.name = %(holder_name)s
    RETURNING id
), s AS (
    INSERT INTO certificate_seals (certificate_id, department_id, key_id, algorithm, signature)
    SELECT c.id, v.department_id, v.key_id, v.algorithm, v.signature
    FROM c, (VALUES {seal_rows}) AS v(department_id, key_id, algorithm, signature)
    RETURNING 1
)
SELECT ok.ok, (SELECT id FROM c), h.id, h.name FROM ok LEFT JOIN h ON true
"""


@functools.cache
def insert_sql(holder_kind: str, sealers: int) -> str:
    """The statement for a holder kind and a number of seals (scalar parameters only)."""
    return _INSERT_SQL.format(
        holder=_HOLDER_SQL[holder_kind],
        person_id="h.id" if holder_kind == "person" else "NULL::integer",
        company_id="h.id" if holder_kind == "company" else "NULL::integer",
        key_ids=", ".join(f"%(key_id_{i})s::varchar" for i in range(sealers)),
        key_count=sealers,
        seal_rows=", ".join(
            f"(%(seal_department_{i})s::integer, %(key_id_{i})s::varchar, "
            f"%(seal_algorithm_{i})s::varchar, %(seal_signature_{i})s::bytea)"
            for i in range(sealers)
        ),
    )


_blocks_lock = threading.Lock()
_CERTIFICATE_MANAGER = manager_of_class(Certificate)


def _naive_utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def _next_serial(profile: IssuingProfile, year: int) -> str:
    """The next serial of this worker's block, reserving a new block when it is used up."""
    blocks = current_app.extensions.get("serial_blocks")
    if blocks is None or blocks.get("pid") != os.getpid():
        # A forked worker never continues its parent's blocks (the parent may use them too).
        blocks = current_app.extensions["serial_blocks"] = {"pid": os.getpid()}
    # The revision in the key: a type row recreated under an old id never reuses a block.
    key = (profile.id, profile.issuer.id, year, profile.revision)
    with _blocks_lock:
        block = blocks.get(key)
        if block is None or block[0] > block[1]:
            size = min(MAX_BLOCK, block[2] * 2) if block else FIRST_BLOCK
            last = _reserve_block(profile, year, size)
            block = blocks[key] = [last - size + 1, last, size]
        seq = block[0]
        block[0] += 1
    return format_serial(profile.issuer, profile, year, seq)


def _reserve_block(profile: IssuingProfile, year: int, size: int) -> int:
    """Reserve ``size`` serials in a transaction of its own; returns the last one."""
    with db.engine.connect() as conn:
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{BLOCK_LOCK_TIMEOUT}'")
        last = conn.exec_driver_sql(
            _BLOCK_SQL,
            {
                "type_id": profile.id,
                "department_id": profile.issuer.id,
                "year": year,
                "count": size,
            },
        ).scalar_one()
        conn.commit()
    return last


def _seal_params(profile: IssuingProfile, signatures: list[bytes]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for i, (sealer, signature) in enumerate(zip(profile.sealers, signatures, strict=True)):
        params[f"seal_department_{i}"] = sealer.department_id
        params[f"key_id_{i}"] = sealer.key_id
        params[f"seal_algorithm_{i}"] = sealer.algorithm
        params[f"seal_signature_{i}"] = signature
    return params


def _execute_one(driver, sql: str, params: dict[str, Any]):
    """One statement's first row; pipelined, so a transaction's BEGIN costs no round trip."""
    with driver.pipeline():
        cursor = driver.execute(sql, params)
    return cursor.fetchone()


def _store_fast(profile: IssuingProfile, data: IssueData, checked: bool):
    now = clock.now()
    serial = _next_serial(profile, now.year)
    # The session's own connection and transaction, driven through psycopg directly.
    fairy = db.session.connection().connection
    # A lost connection empties the pool, as SQLAlchemy does for its own statements.
    lost = functools.partial(db.engine.pool._invalidate, fairy)
    with as_sqlalchemy_errors(db.engine, fairy.driver_connection, lost):
        certificate = _write(
            profile,
            data,
            now,
            serial,
            checked,
            lambda sql, params: _execute_one(fairy.driver_connection, sql, params),
        )
    if certificate is not None:
        db.session.add(certificate)
    return certificate


def store_autocommit(profile: IssuingProfile, data: IssueData):
    """Like ``store``, as a transaction of its own: the one statement in autocommit on this
    thread's own connection (``db_pool.OwnAutocommitConnections``), atomic and durable by
    itself: one round trip, no BEGIN or COMMIT.

    The caller's session is not involved, except that the Certificate returned joins it.
    """
    now = clock.now()
    serial = _next_serial(profile, now.year)
    with current_app.extensions["own_autocommit_connections"].cursor() as cursor:
        certificate = _write(
            profile,
            data,
            now,
            serial,
            False,
            lambda sql, params: cursor.execute(sql, params).fetchone(),
        )
    if certificate is not None:
        db.session.add(certificate)
    return certificate


def _write(
    profile: IssuingProfile,
    data: IssueData,
    now: datetime,
    serial: str,
    checked: bool,
    execute,
):
    """Seal and write with ``execute(sql, params) -> first row``; the detached Certificate,
    or None when the cache check failed (nothing written)."""
    cipher = get_cipher()
    person = data.holder_kind == "person"
    holder_params = {
        "holder_key": cipher.index(data.identifier) if person else data.identifier,
        "holder_cipher": cipher.encrypt_text(data.identifier) if person else None,
    }
    signed_name = data.holder_name
    for _ in range(3):
        holder = {"kind": data.holder_kind, "id": data.identifier, "name": signed_name}
        message, signatures = _seal(profile, data, serial, holder)
        values = {
            "serial": serial,
            "type_id": profile.id,
            "department_id": profile.issuer.id,
            "payload_cipher": cipher.encrypt(message),
            "payload_digest": seals.digest(message),
            "issued_on": data.issued_on,
            "expires_on": data.expires_on,
            "paper_issued_at": data.paper_issued_at,
            "issued_in_sync": issued_in_sync(profile, data.paper_issued_at, now),
            "issued_by_id": data.issued_by_id,
        }
        row = execute(
            insert_sql(data.holder_kind, len(profile.sealers)),
            dict(
                values,
                **holder_params,
                **_seal_params(profile, signatures),
                holder_name=signed_name,
                paper_issued_at=_naive_utc(data.paper_issued_at),
                now=_naive_utc(now),
                checked=checked,
                revision=profile.revision,
            ),
        )
        usable, certificate_id, holder_id, stored_name = row
        if not usable:
            return None  # the cache check failed: nothing was written
        if holder_id is None:  # created by a transaction newer than this statement's snapshot
            continue
        if certificate_id is not None:
            break
        if person:
            raise UnprocessableEntity(
                "姓名与公民身份号码不一致", code="identity_mismatch", field="name"
            )
        signed_name = stored_name  # a company is sealed under its registered name
    else:
        raise RuntimeError("could not find or create the holder")
    values["holder_person_id"] = holder_id if person else None
    values["holder_company_id"] = None if person else holder_id
    # The row as written, without reading it back (seals load lazily once in a session).
    # Set as a query would load it (no attribute events: nothing here is a change to flush).
    certificate = _CERTIFICATE_MANAGER.new_instance()
    certificate.__dict__.update(
        values,
        id=certificate_id,
        status="valid",
        electronic_issued_at=now,
        version=1,
        supersedes_id=None,
        source="issued",
        source_key=None,
        revoked_at=None,
        revocation_reason=None,
        import_id=None,
        created_at=now,
        paper_issued_at=None
        if data.paper_issued_at is None
        else data.paper_issued_at.astimezone(UTC),
    )
    make_transient_to_detached(certificate)
    return certificate


# --- any database, any transaction ------------------------------------------------------------


def profile_still_true(profile: IssuingProfile) -> bool:
    """The same check as the fast path's, as a query of its own."""
    revision = db.session.scalar(
        select(CertificateType.revision).where(CertificateType.id == profile.id)
    )
    current = db.session.scalar(
        select(func.count())
        .select_from(SealKey)
        .where(SealKey.key_id.in_(profile.key_ids), SealKey.status == "current")
    )
    return revision == profile.revision and current == len(profile.sealers)


def _store_portable(profile: IssuingProfile, data: IssueData, checked: bool):
    if not checked and not profile_still_true(profile):
        return None
    if data.holder_kind == "person":
        holder_obj = accounts.get_or_create_person(data.holder_name, data.identifier)
    else:
        from backend.services.certificate_issuing import get_or_create_company

        holder_obj = get_or_create_company(data.holder_name, data.identifier)
    serial = allocate_serials(profile, profile.issuer)[0]
    holder = {"kind": data.holder_kind, "id": data.identifier, "name": holder_obj.name}
    message, signatures = _seal(profile, data, serial, holder)
    now = clock.now()
    certificate = Certificate(
        serial=serial,
        type_id=profile.id,
        department_id=profile.issuer.id,
        holder_person_id=holder_obj.id if data.holder_kind == "person" else None,
        holder_company_id=holder_obj.id if data.holder_kind == "company" else None,
        payload_cipher=get_cipher().encrypt(message),
        payload_digest=seals.digest(message),
        status="valid",
        issued_on=data.issued_on,
        expires_on=data.expires_on,
        paper_issued_at=data.paper_issued_at,
        electronic_issued_at=now,
        issued_in_sync=issued_in_sync(profile, data.paper_issued_at, now),
        version=1,
        source="issued",
        issued_by_id=data.issued_by_id,
    )
    for sealer, signature in zip(profile.sealers, signatures, strict=True):
        certificate.seals.append(
            CertificateSeal(
                department_id=sealer.department_id,
                key_id=sealer.key_id,
                algorithm=sealer.algorithm,
                signature=signature,
            )
        )
    db.session.add(certificate)
    db.session.flush()
    return certificate
