"""Batch import of historic (paper) certificates from CSV.

The whole file is checked first (``certificate_import_checks``). A file with bad rows
imports nothing and reports every problem (row, field, code) unless skipping bad rows is
asked for. Only certificates still valid are digitised: expired rows are reported, not
imported. Each row's paper serial is its natural key, so importing the same file again adds
nothing.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from backend import clock
from backend.errors import Conflict, UnprocessableEntity
from backend.extensions import db
from backend.models import CertificateImport, CertificateType, User
from backend.services.certificate_bulk import (
    BulkEntry,
    bulk_seal_and_store,
    create_companies,
    create_persons,
    existing_source_keys,
    find_companies,
    lock_serial_counter,
    start_sealing_helper,
    wants_helper,
)
from backend.services.certificate_import_checks import (
    GoodRow,
    ImportProgress,
    check_rows,
    read_table,
    source_key,
)
from backend.services.certificate_issuing import authorise_issuer
from backend.services.certificate_types import get_type, joint_departments
from backend.services.tx import transactional
from backend.validation import refuse_nul_in_upload

# --- the import ----------------------------------------------------------------------------


def _resolve_holders(
    cert_type: CertificateType, rows: list[GoodRow], known_persons: dict[str, int]
) -> dict[str, int]:
    """Holder identifier → row id, creating the new persons or companies in bulk.

    Persons were looked up while checking names; one created meanwhile by a concurrent
    import makes the insert fail (409 ``import_conflict``, retry), never a duplicate.
    """
    if cert_type.holder_kind == "person":
        found = dict(known_persons)
        new = {r.holder_id: r.holder_name for r in rows if r.holder_id not in found}
        found.update(create_persons(new))
    else:
        found = {k: v[0] for k, v in find_companies(r.holder_id for r in rows).items()}
        new = {r.holder_id: r.holder_name for r in rows if r.holder_id not in found}
        found.update(create_companies(new))
    return found


@transactional
def import_certificates(
    *,
    cert_type: CertificateType | str,
    raw: bytes,
    filename: str,
    skip_bad_rows: bool = False,
    officer: User | None = None,
    max_bytes: int | None = None,
    max_rows: int | None = None,
    progress: ImportProgress | None = None,
) -> CertificateImport:
    """Check the whole file, then seal and store its good, unexpired, new rows at once.

    ``officer`` None is the command line (the type's issuing department imports).
    """
    if isinstance(cert_type, str):
        cert_type = get_type(cert_type)
    department = authorise_issuer(officer, cert_type)
    table = read_table(raw, max_bytes=max_bytes, max_rows=max_rows)
    if b"\x00" in raw:  # valid UTF-8 by now: a NUL byte is a NUL character
        refuse_nul_in_upload(raw.decode("utf-8-sig"))
    if not wants_helper(len(table) - 1):
        return _check_and_store(
            cert_type, department, table, raw, filename, skip_bad_rows, officer, progress, None
        )
    # Started now, the sealing helper process is ready by the time the rows are checked.
    with start_sealing_helper(department, joint_departments(cert_type)) as helper:
        return _check_and_store(
            cert_type, department, table, raw, filename, skip_bad_rows, officer, progress, helper
        )


def _check_and_store(
    cert_type, department, table, raw, filename, skip_bad_rows, officer, progress, helper
) -> CertificateImport:
    checked = check_rows(cert_type, table, progress)
    if checked.problems and not skip_bad_rows:
        raise UnprocessableEntity(
            f"文件中有 {checked.bad_rows} 行数据有误,未导入任何证照",
            code="invalid_rows",
            field="file",
            details=[p.to_dict() for p in checked.problems],
            rows_total=checked.rows_total,
            rows_bad=checked.bad_rows,
        )
    try:
        return _store(cert_type, department, checked, raw, filename, officer, progress, helper)
    except IntegrityError as exc:  # a concurrent import created the same holder first
        raise Conflict("另一批导入正在进行,请稍后重试", code="import_conflict") from exc


def _store(
    cert_type, department, checked, raw, filename, officer, progress, helper
) -> CertificateImport:
    lock_serial_counter(cert_type, department)
    keys = {r.paper_serial: source_key(cert_type, r.paper_serial) for r in checked.good}
    existing = existing_source_keys(keys.values())
    new_rows = [r for r in checked.good if keys[r.paper_serial] not in existing]
    already = [r.row for r in checked.good if keys[r.paper_serial] in existing]
    record = CertificateImport(
        type_id=cert_type.id,
        department_id=department.id,
        user_id=officer.id if officer else None,
        filename=filename[:200],
        file_digest=hashlib.sha256(raw).hexdigest(),
        rows_total=checked.rows_total,
        imported=len(new_rows),
        already_imported=len(already),
        expired=len(checked.expired),
        skipped_bad=checked.bad_rows,
        report={
            "expired": checked.expired,
            "already_imported_rows": already,
            "skipped": [p.to_dict() for p in checked.problems],
        },
    )
    db.session.add(record)
    db.session.flush()
    holders = _resolve_holders(cert_type, new_rows, checked.known_persons)
    entries = [
        BulkEntry(
            holder_kind=cert_type.holder_kind,
            holder_row_id=holders[r.holder_id],
            holder_identifier=r.holder_id,
            holder_name=r.holder_name,
            fields=r.fields,
            issued_on=r.issued_on,
            expires_on=r.expires_on,
            paper_issued_at=r.paper_issued_at,
            source_key=keys[r.paper_serial],
        )
        for r in new_rows
    ]
    bulk_seal_and_store(
        cert_type,
        department,
        entries,
        sealing_departments=joint_departments(cert_type),
        source="imported",
        import_id=record.id,
        issued_by_id=officer.id if officer else None,
        progress=(lambda n: progress("seal", n, len(entries))) if progress else None,
        helper=helper,
    )
    return record


def present_import(record: CertificateImport) -> dict[str, Any]:
    cert_type = db.session.get(CertificateType, record.type_id)
    return {
        "id": record.id,
        "type": {"code": cert_type.code, "name": cert_type.name},
        "filename": record.filename,
        "file_digest": record.file_digest,
        "rows_total": record.rows_total,
        "imported": record.imported,
        "already_imported": record.already_imported,
        "expired": record.expired,
        "skipped_bad": record.skipped_bad,
        "report": record.report,
        "created_at": clock.to_local(record.created_at),
    }


def list_imports(officer: User, *, page: int = 1, per_page: int = 20) -> dict[str, Any]:
    """Imports into the officer's department, newest first."""
    where = CertificateImport.department_id == officer.department_id
    total = db.session.scalar(select(func.count(CertificateImport.id)).where(where))
    records = db.session.scalars(
        select(CertificateImport)
        .where(where)
        .order_by(CertificateImport.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return {
        "items": [present_import(r) for r in records],
        "total": total,
        "page": page,
        "per_page": per_page,
    }
