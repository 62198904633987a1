"""No certificate table holds a plain ID number, however the certificate got there."""

import io

from sqlalchemy import text

from backend.extensions import db
from tests.certificates.helpers import (
    IMPORT_HEADER,
    csv_bytes,
    import_row,
    issue_body,
    officer_of,
    person_type,
)
from tests.factories import valid_id_number

TABLES = ("persons", "certificates", "certificate_seals", "certificate_imports", "notifications")


def raw_dump() -> bytes:
    out = b""
    for table in TABLES:
        for row in db.session.execute(text(f"SELECT * FROM {table}")).fetchall():
            for value in row:
                binary = isinstance(value, (bytes, memoryview))
                out += bytes(value) if binary else repr(value).encode()
    return out


def test_issued_imported_and_rejected_id_numbers_are_nowhere_in_the_raw_tables(api):
    cert_type = person_type()
    token = api.login(officer_of(cert_type.department))
    issued, imported, skipped = valid_id_number(), valid_id_number(), valid_id_number()
    response = api.post("/certificates", token=token, json=issue_body(cert_type, issued))
    assert response.status_code == 201
    rows = [
        import_row("E1", imported),
        import_row("E2", skipped, 性别="?"),  # a bad row kept in the import report
    ]
    response = api.post(
        "/certificate-imports",
        token=token,
        data={
            "type": cert_type.code,
            "skip_bad_rows": "true",
            "file": (io.BytesIO(csv_bytes(IMPORT_HEADER, rows)), "x.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    assert skipped not in response.get_data(as_text=True)
    dump = raw_dump()
    for id_number in (issued, imported, skipped):
        assert id_number.encode() not in dump
