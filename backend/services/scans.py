"""Scanning a holder's code: consume it, disclose only what the verifier may see, record it.

Order matters for "nothing half-written": the code is consumed (and marked used by this
organisation) in Redis first, then the usage records and the holder's notification are
written in one transaction. A token store that is down fails the scan before anything is
written; the database is only touched once the code is ours.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cachetools import TTLCache
from flask import current_app
from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.orm import aliased

from backend import clock, db_driver
from backend.caller_cache import Caller
from backend.errors import Forbidden
from backend.extensions import db
from backend.models import (
    Certificate,
    CertificateSeal,
    CertificateType,
    Department,
    SealKey,
    UsageRecord,
    VerifierOrganisation,
)
from backend.security.crypto import mask_id_number
from backend.services import codes, rate_limits
from backend.services.certificate_store import (
    effective_status,
    verify_certificate,
)
from backend.services.tx import transactional
from notifications.channels.base import PROBE_USER_ID, ReservationNeeded
from notifications.outbox import (
    channel_probes,
    notification_insert,
    queued_deliveries,
    reached_channels,
)
from notifications.queue import enqueue_committed
from notifications.service import notification_values, notify

NOTIFICATION_CATEGORY = "certificate_used"
USAGE_RECORDS_LINK = "/usage-records"


class OutOfScope(Forbidden):
    code = "out_of_scope"
    message = "本单位无权查看该证照,本次查验已记录"


@dataclass
class ScanOutcome:
    scan_id: str
    scanned_at: str
    purpose: str
    organisation: str
    certificates: list[dict[str, Any]] = field(default_factory=list)
    withheld: int = 0  # certificates the organisation may not see (not described)

    @property
    def valid(self) -> bool:
        return bool(self.certificates) and all(c["result"] == "ok" for c in self.certificates)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scan_id": self.scan_id,
            "scanned_at": self.scanned_at,
            "purpose": self.purpose,
            "organisation": self.organisation,
            "valid": self.valid,
            "certificates": self.certificates,
            "withheld": self.withheld,
        }


@dataclass(frozen=True)
class TypeView:
    code: str
    name: str
    fields: list[dict[str, Any]]

    def field_names(self) -> list[str]:
        return [f["name"] for f in self.fields]


@dataclass(frozen=True)
class SealView:
    key_id: str
    department_id: int
    signature: bytes


@dataclass(frozen=True)
class KeyView:
    key_id: str
    algorithm: str
    public_key: bytes
    status: str
    department_id: int


@dataclass
class CertificateView:
    """The columns of a certificate a scan needs, read without the ORM (the hot path).

    It offers the attributes ``verify_certificate``, ``certificate_fields`` and
    ``effective_status`` read from a ``Certificate``, so the one set of rules applies.
    """

    id: int
    serial: str
    type_id: int
    department_id: int
    holder_person_id: int | None
    holder_company_id: int | None
    payload_cipher: bytes
    payload_digest: str
    status: str
    issued_on: date
    expires_on: date | None
    version: int
    type: TypeView
    issuer: dict[str, str]
    seals: list[SealView] = field(default_factory=list)


def allowed_fields(scope: dict | None, certificate: CertificateView) -> list[str] | None:
    """Field names this scope discloses for the certificate's type, in the type's order,
    or None when the type is out of scope."""
    cert_type = certificate.type
    if not scope or cert_type.code not in scope:
        return None
    granted = scope[cert_type.code]
    names = cert_type.field_names()
    if granted is None:
        return names
    wanted = set(granted)
    return [n for n in names if n in wanted]


def _disclose(
    scope: dict, certificate: CertificateView, names: list[str], values: dict[str, Any]
) -> dict[str, Any]:
    """The allowed fields' values (``values``: the verified payload's fields). ID numbers
    are shown in full only when the scope names the field itself; "all fields" (null)
    shows them masked."""
    explicit = scope[certificate.type.code] is not None
    id_fields = {f["name"] for f in certificate.type.fields if f.get("type") == "id_number"}
    out: dict[str, Any] = {}
    for name in names:
        if name not in values:
            continue
        value = values[name]
        if name in id_fields and not explicit and isinstance(value, str):
            value = mask_id_number(value)
        out[name] = value
    return out


def _present(
    certificate: CertificateView, status: str, seal_ok: bool, reason: str
) -> dict[str, Any]:
    return {
        "id": certificate.id,
        "type": {"code": certificate.type.code, "name": certificate.type.name},
        "serial": certificate.serial,
        "issuer": certificate.issuer,
        "issued_on": certificate.issued_on.isoformat(),
        "expires_on": certificate.expires_on.isoformat() if certificate.expires_on else None,
        "status": status,
        "seal": {"valid": seal_ok, "reason": reason},
    }


_SEALER = aliased(Department)  # the department of each seal (joint issuance: several)
# Built once: composing this 24-column statement costs more than running it.
_LOAD_ALL = (
    select(
        Certificate.id,
        Certificate.serial,
        Certificate.type_id,
        Certificate.department_id,
        Certificate.holder_person_id,
        Certificate.holder_company_id,
        Certificate.payload_cipher,
        Certificate.payload_digest,
        Certificate.status,
        Certificate.issued_on,
        Certificate.expires_on,
        Certificate.version,
        CertificateType.revision.label("type_revision"),  # the type itself: _type_view
        Department.code.label("issuer_code"),
        Department.name.label("issuer_name"),
        CertificateSeal.key_id.label("seal_key_id"),
        CertificateSeal.department_id.label("seal_department_id"),
        _SEALER.code.label("seal_department_code"),
        CertificateSeal.signature,
        SealKey.key_id.label("known_key_id"),
        SealKey.algorithm,
        SealKey.public_key,
        SealKey.status.label("key_status"),
        SealKey.department_id.label("key_department_id"),
    )
    .join(CertificateType, CertificateType.id == Certificate.type_id)
    .join(Department, Department.id == Certificate.department_id)
    .outerjoin(CertificateSeal, CertificateSeal.certificate_id == Certificate.id)
    .outerjoin(SealKey, SealKey.key_id == CertificateSeal.key_id)
    .outerjoin(_SEALER, _SEALER.id == CertificateSeal.department_id)
    .order_by(Certificate.id, CertificateSeal.id)
)
_LOAD = _LOAD_ALL.where(Certificate.id.in_(bindparam("ids", expanding=True)))
_USAGE = UsageRecord.__table__
_INSERT_USAGE = insert(_USAGE)
_USAGE_COLUMNS = (
    "scan_id",
    "code_ref",
    "organisation_id",
    "member_id",
    "shown_by_id",
    "certificate_id",
    "holder_person_id",
    "holder_company_id",
    "type_id",
    "department_id",
    "fields_disclosed",
    "purpose",
    "result",
    "scanned_at",
)


@dataclass
class _Loaded:
    certificates: list[CertificateView]
    keys: dict[str, KeyView]
    sealers: dict[int, str]  # sealing department id -> code
    probed: dict[str, Any] | None = None  # the holder's channel probes (driver path)


_load_with_probes: dict[tuple[str, ...], db_driver.ByIds] = {}


def _driver_load(certificate_ids: list[int], holder_user_id: int, conn):
    """The load's rows with the holder's channel look-ups riding along (one round trip
    less per scan), and those look-ups' values by channel."""
    probes, params = channel_probes(NOTIFICATION_CATEGORY)
    names = tuple(name for name, _ in probes)
    load = _load_with_probes.get(names)
    if load is None:
        labelled = (e.label(f"probe_{n}") for n, e in probes)
        load = _load_with_probes[names] = db_driver.ByIds(
            _LOAD_ALL.add_columns(*labelled), Certificate.id
        )
    statement, ids = load.pick(certificate_ids)
    params.update(ids, **{PROBE_USER_ID: holder_user_id})
    rows = db_driver.execute(conn, statement, params).fetchall()
    probed = {name: getattr(rows[0], f"probe_{name}") for name in names} if rows else None
    return rows, probed


def _load(certificate_ids: list[int], conn=None, holder_user_id: int | None = None) -> _Loaded:
    """The certificates with type, issuer, seals, the seals' keys and the sealing
    departments' codes: one query, on the driver connection ``conn`` (with the holder's
    channel look-ups) or the session's."""
    probed = None
    if conn is not None:
        rows, probed = _driver_load(certificate_ids, holder_user_id, conn)
    else:  # the session's connection, without the ORM's result machinery
        rows = db.session.connection().execute(_LOAD, {"ids": list(certificate_ids)}).all()
    certificates: dict[int, CertificateView] = {}
    keys: dict[str, KeyView] = {}
    sealers: dict[int, str] = {}
    for r in rows:
        view = certificates.get(r.id)
        if view is None:
            view = certificates[r.id] = CertificateView(
                id=r.id,
                serial=r.serial,
                type_id=r.type_id,
                department_id=r.department_id,
                holder_person_id=r.holder_person_id,
                holder_company_id=r.holder_company_id,
                payload_cipher=bytes(r.payload_cipher),
                payload_digest=r.payload_digest,
                status=r.status,
                issued_on=r.issued_on,
                expires_on=r.expires_on,
                version=r.version,
                type=_type_view(r.type_id, r.type_revision, conn),
                issuer={"code": r.issuer_code, "name": r.issuer_name},
            )
        if r.seal_key_id is not None:
            view.seals.append(SealView(r.seal_key_id, r.seal_department_id, bytes(r.signature)))
            sealers[r.seal_department_id] = r.seal_department_code
        if r.known_key_id is not None:
            keys[r.known_key_id] = KeyView(
                r.known_key_id,
                r.algorithm,
                bytes(r.public_key),
                r.key_status,
                r.key_department_id,
            )
    return _Loaded(list(certificates.values()), keys, sealers, probed)


_TYPE = select(CertificateType.code, CertificateType.name, CertificateType.fields).where(
    CertificateType.id == bindparam("type_id")
)
_type_views: dict[tuple[int, str], TypeView] = {}


def _type_view(type_id: int, revision: str, conn=None) -> TypeView:
    """A certificate type's code, name and fields, kept per worker under the type's
    revision (replaced on every change to the row), so a scan neither reads nor parses
    the field list again until the type changes."""
    found = _type_views.get((type_id, revision))
    if found is None:
        row = db_driver.first_row(_TYPE, {"type_id": type_id}, conn)
        found = TypeView(row.code, row.name, row.fields)
        if len(_type_views) > 1000:  # old revisions pile up only through edits
            _type_views.clear()
        _type_views[(type_id, revision)] = found
    return found


@dataclass(frozen=True)
class OrganisationScope:
    id: int
    name: str
    scope: dict


_scope_lock = threading.Lock()


def organisation_scope(organisation_id: int) -> OrganisationScope:
    """The organisation's name and scope, served from this worker's memory for up to
    ``SCOPE_CACHE_TTL_S`` seconds (0: always read), so a scan needs no query for it."""
    ttl = current_app.config["SCOPE_CACHE_TTL_S"]
    if ttl > 0:
        cache = current_app.extensions.get("scope_cache")
        if cache is None:
            cache = current_app.extensions.setdefault("scope_cache", TTLCache(4096, ttl))
        with _scope_lock:
            found = cache.get(organisation_id)
        if found is not None:
            return found
    organisation = db.session.get(VerifierOrganisation, organisation_id)
    found = OrganisationScope(organisation.id, organisation.name, dict(organisation.scope or {}))
    if ttl > 0:
        with _scope_lock:
            cache[organisation_id] = found
    return found


@dataclass
class _Scan:
    """What one scan found and must write: the answer, the usage rows, the notification."""

    outcome: ScanOutcome
    usage_rows: list[dict[str, Any]]
    notification: dict[str, Any]


def _record(
    member: Caller,
    organisation: OrganisationScope,
    token: str,
    record: codes.CodeRecord,
    purpose: str,
) -> ScanOutcome:
    """Load, verify and disclose, then write the usage records and the holder's
    notification together: on PostgreSQL on the bare driver (``backend.db_driver``: the
    load, the channels' look-up and one statement for every write), elsewhere in one
    transaction of the session."""
    if db_driver.usable():
        with db_driver.connection() as conn:
            loaded = _load(record.certificate_ids, conn, record.holder_user_id)
            scan = _assess(member, organisation, token, record, purpose, loaded)
            queued = _write_on_driver(conn, scan, loaded.probed)
        if queued:  # usually none: the inbox needs no job
            enqueue_committed([("delivery", queued, False)])
        return scan.outcome
    return _record_on_session(member, organisation, token, record, purpose)


@transactional
def _record_on_session(member, organisation, token, record, purpose) -> ScanOutcome:
    scan = _assess(member, organisation, token, record, purpose, _load(record.certificate_ids))
    if scan.usage_rows:
        db.session.connection().execute(_INSERT_USAGE, scan.usage_rows)
    notify(**scan.notification)
    return scan.outcome


def _write_on_driver(conn, scan: _Scan, probed: dict[str, Any] | None = None) -> list[int]:
    """Usage records, notification and deliveries in one statement, after the channels'
    look-ups (``probed``: their values, read with the load); the queued deliveries' ids.
    ``conn`` is in autocommit: one statement is one transaction, so the usual scan costs
    no BEGIN or COMMIT round trip. Only a channel that must use up quota to decide (a
    one-time WeChat acceptance) makes it a transaction of fresh look-ups and the statement.

    With ``SCAN_ASYNC_COMMIT`` the same statement lets its transaction commit without
    waiting for the WAL flush (``set_config(..., is_local)``, i.e. ``SET LOCAL``): a scan
    then costs no disk sync. A database crash can lose the last fraction of a second of
    usage records (never corrupt anything); what other transactions see is unchanged."""
    note = scan.notification
    try:
        reached = reached_channels(
            note["user_id"], note["category"], conn=conn, reserve=False, probed=probed
        )
    except ReservationNeeded:
        with conn.transaction():
            reached = reached_channels(note["user_id"], note["category"], conn=conn)
            return _insert_scan(conn, scan, reached)
    return _insert_scan(conn, scan, reached)


def _insert_scan(conn, scan: _Scan, reached: list[str]) -> list[int]:
    values = notification_values(**scan.notification)
    statement, params = notification_insert(values, reached)
    statement = _with_usage_rows(
        statement, len(scan.usage_rows), current_app.config["SCAN_ASYNC_COMMIT"]
    )
    for i, row in enumerate(scan.usage_rows):
        params.update({f"u{i}_{column}": row[column] for column in _USAGE_COLUMNS})
    return queued_deliveries(db_driver.execute(conn, statement, params).fetchall())


_usage_statements: dict[tuple[int, int, bool], Any] = {}


def _with_usage_rows(statement, count: int, relax_commit: bool):
    """``statement`` with ``count`` usage records written by a CTE of it and, if asked,
    the commit relaxed (built once per shape, so ``db_driver`` compiles it once)."""
    key = (id(statement), count, relax_commit)
    found = _usage_statements.get(key)
    if found is None or found[0] is not statement:
        rows = [
            {c: bindparam(f"u{i}_{c}", type_=_USAGE.c[c].type) for c in _USAGE_COLUMNS}
            for i in range(count)
        ]
        combined = (
            statement.add_cte(insert(_USAGE).values(rows).cte("usage_rows")) if rows else statement
        )
        if relax_commit:
            relaxed = func.set_config("synchronous_commit", "off", True)
            combined = combined.returning(relaxed.label("commit_relaxed"))
        found = (statement, combined)
        _usage_statements[key] = found
    return found[1]


def _assess(
    member: Caller,
    organisation: OrganisationScope,
    token: str,
    record: codes.CodeRecord,
    purpose: str,
    loaded_certificates: _Loaded,
) -> _Scan:
    """Check each certificate against the scope, its seals and its status (no writes)."""
    now = clock.now()
    outcome = ScanOutcome(
        scan_id=uuid.uuid4().hex,
        scanned_at=clock.to_local(now) or "",
        purpose=purpose,
        organisation=organisation.name,
    )
    scope = organisation.scope
    loaded = loaded_certificates.certificates
    keys, sealers = loaded_certificates.keys, loaded_certificates.sealers
    rows: list[dict[str, Any]] = []
    seen, refused = [], []
    ref = codes.code_ref(token)
    for certificate in loaded:
        names = allowed_fields(scope, certificate)
        disclosed: list[str] = []
        if names is None:
            result = "out_of_scope"
            outcome.withheld += 1
            refused.append(certificate.type.name)
        else:
            check = verify_certificate(certificate, keys=keys, department_codes=sealers)
            status = effective_status(certificate)
            item = _present(certificate, status, check.ok, check.reason)
            if not check.ok:
                result = "seal_invalid"
            elif status != "valid":
                result = status
            else:
                result = "ok"
                item["fields"] = _disclose(scope, certificate, names, check.payload["fields"])
                disclosed = list(item["fields"])
            item["result"] = result
            outcome.certificates.append(item)
            seen.append(certificate.type.name)
        rows.append(
            {
                "scan_id": outcome.scan_id,
                "code_ref": ref,
                "organisation_id": organisation.id,
                "member_id": member.id,
                "shown_by_id": record.holder_user_id,
                "certificate_id": certificate.id,
                "holder_person_id": certificate.holder_person_id,
                "holder_company_id": certificate.holder_company_id,
                "type_id": certificate.type_id,
                "department_id": certificate.department_id,
                "fields_disclosed": disclosed,
                "purpose": purpose,
                "result": result,
                "scanned_at": now,
            }
        )
    note = _holder_notification(record.holder_user_id, organisation.name, purpose, seen, refused)
    return _Scan(outcome, rows, note)


def _holder_notification(
    holder_user_id: int, organisation: str, purpose: str, seen: list[str], refused: list[str]
) -> dict[str, Any]:
    """``notify``'s arguments for telling the holder who looked at what."""
    if seen:
        body = f"{organisation}因“{purpose}”查验了您的{'、'.join(seen)}。"
        if refused:
            body += f"{'、'.join(refused)}超出其授权范围,未予提供。"
        title = "您的证照已被查验"
    else:
        body = (
            f"{organisation}因“{purpose}”尝试查验您的{'、'.join(refused)},"
            "超出其授权范围,未获取任何信息。"
        )
        title = "有单位尝试查验您的证照"
    return {
        "user_id": holder_user_id,
        "category": NOTIFICATION_CATEGORY,
        "title": title,
        "body": body + "如有异议请举报。",
        "link": USAGE_RECORDS_LINK,
        # Fields of the "certificate_used" WeChat template (notifications/templates.py).
        "data": {"certificate": "、".join(seen or refused), "verifier": organisation},
    }


def scan_code(member: Caller, qr_content: str, purpose: str) -> dict[str, Any]:
    """Consume a code and return the verified, in-scope certificate fields.

    The member's rate limit is counted by the same token-store step that consumes the
    code, so a limited attempt consumes nothing."""
    if member.verifier_organisation_id is None:
        raise Forbidden("账号未关联用证单位", code="no_verifier_organisation")
    token = codes.parse_qr_content(qr_content)
    organisation = organisation_scope(member.verifier_organisation_id)
    with rate_limits.counted_along(rate_limits.SCANS, f"member:{member.id}") as limit:
        record = codes.redeem(token, organisation.name, limit)
    outcome = _record(member, organisation, token, record, purpose.strip())
    if not outcome.certificates:
        raise OutOfScope()
    return outcome.to_dict()
