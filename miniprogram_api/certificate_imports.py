"""Batch import of historic certificates from a CSV upload (multipart/form-data)."""

from __future__ import annotations

from flask import current_app, request

from backend.errors import ValidationFailed
from backend.services import certificate_imports
from miniprogram_api import bp
from miniprogram_api.registry import endpoint, page_query

OFFICER = ("department_officer",)
# Upload limits; the command line (flask import-certificates) has larger ones.
DEFAULT_MAX_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_ROWS = 50_000
IMPORT_SCHEMA = {
    "type": "object",
    "description": "counts (rows_total, imported, already_imported, expired, skipped_bad) "
    "and the per-row report",
}
FLAGS = {"true": True, "1": True, "false": False, "0": False, "": False}


def _form() -> tuple[str, bool, bytes, str]:
    """The multipart fields: type, skip_bad_rows, and the file (read up to the limit + 1)."""
    missing = [name for name in ("type",) if not request.form.get(name, "").strip()]
    upload = request.files.get("file")
    if upload is None:
        missing.insert(0, "file")
    if missing:
        raise ValidationFailed(
            f"缺少必填字段:{missing[0]}",
            code="missing_field",
            field=missing[0],
            details=[
                {"field": m, "code": "missing_field", "message": f"缺少必填字段:{m}"}
                for m in missing
            ],
        )
    flag = request.form.get("skip_bad_rows", "").strip().lower()
    if flag not in FLAGS:
        raise ValidationFailed(
            "skip_bad_rows 应为 true 或 false", code="invalid_value", field="skip_bad_rows"
        )
    limit = current_app.config.get("CERTIFICATE_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES)
    raw = upload.stream.read(limit + 1)
    return request.form["type"].strip(), FLAGS[flag], raw, upload.filename or "upload.csv"


@endpoint(
    bp,
    "/certificate-imports",
    "POST",
    summary="Import historic certificates from CSV (fields: file, type, skip_bad_rows)",
    tags=["certificates"],
    auth=OFFICER,
    request_content_type="multipart/form-data",
    raw_body=True,
    response=IMPORT_SCHEMA,
    status=201,
    errors=[404, 409, 413, 422],
)
def import_certificates(caller):
    type_code, skip_bad_rows, raw, filename = _form()
    record = certificate_imports.import_certificates(
        cert_type=type_code,
        raw=raw,
        filename=filename,
        skip_bad_rows=skip_bad_rows,
        officer=caller,
        max_bytes=current_app.config.get("CERTIFICATE_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES),
        max_rows=current_app.config.get("CERTIFICATE_IMPORT_MAX_ROWS", DEFAULT_MAX_ROWS),
    )
    return certificate_imports.present_import(record)


@endpoint(
    bp,
    "/certificate-imports",
    summary="My department's imports, newest first",
    tags=["certificates"],
    auth=OFFICER,
    query=page_query(),
    response={"type": "object"},
)
def list_certificate_imports(caller, query):
    return certificate_imports.list_imports(
        caller, page=query.get("page", 1), per_page=query.get("per_page", 20)
    )
