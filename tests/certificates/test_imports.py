"""Batch import of historic certificates: all or nothing, every bad row reported, no
duplicates on re-import, and a clear error for every kind of bad file."""

import io
import re
import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from backend import clock
from backend.extensions import db
from backend.models import Certificate, CertificateImport, Person
from backend.services.certificate_store import certificate_fields, verify_certificate
from tests.certificates.helpers import (
    IMPORT_HEADER,
    citizen_with,
    csv_bytes,
    import_row,
    officer_of,
    person_type,
)
from tests.factories import create_department, error_of, valid_id_number

BOM = "\ufeff".encode()
CHINESE = re.compile("[\u4e00-\u9fff]")


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(model.id)))


def upload(api, token, raw: bytes, type_code: str, skip: str | None = None, name="历史证照.csv"):
    data = {"type": type_code, "file": (io.BytesIO(raw), name)}
    if skip is not None:
        data["skip_bad_rows"] = skip
    return api.post(
        "/certificate-imports", token=token, data=data, content_type="multipart/form-data"
    )


@pytest.fixture
def setting(api):
    cert_type = person_type()
    token = api.login(officer_of(cert_type.department))
    return cert_type, token


def good_file(n: int = 3, prefix: str = "P") -> bytes:
    return csv_bytes(
        IMPORT_HEADER, [import_row(f"{prefix}{i}", valid_id_number(), f"赵{i}") for i in range(n)]
    )


def test_a_good_file_is_sealed_and_stored_in_full(api, setting):
    cert_type, token = setting
    response = upload(api, token, good_file(3), cert_type.code)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["rows_total"], body["imported"], body["already_imported"]) == (3, 3, 0)
    assert body["type"]["code"] == cert_type.code and body["filename"] == "历史证照.csv"
    certificates = list(db.session.scalars(select(Certificate)))
    assert len(certificates) == 3 and count(Person) == 3
    for certificate in certificates:
        assert verify_certificate(certificate).ok
        assert certificate.source == "imported" and certificate.import_id == body["id"]
        assert certificate.paper_issued_at.astimezone(clock.SHANGHAI).date() == date(2020, 5, 1)
        assert certificate.issued_in_sync is False  # digitised years after the paper one
    assert certificate_fields(certificates[0])["性别"] == "女"
    listed = api.get("/certificate-imports", token=token).get_json()
    assert [i["id"] for i in listed["items"]] == [body["id"]]


def test_a_file_with_bad_rows_imports_nothing_and_reports_every_problem(api, setting):
    cert_type, token = setting
    known = valid_id_number()
    citizen_with(known, name="钱七")
    rows = [
        import_row("A1", valid_id_number()),
        import_row("A2", "110101199003071230"),
        import_row("A3", valid_id_number(), 出生日期="1985-02-30", 性别="X"),
        import_row("A4", valid_id_number(), issued_on=""),
        import_row("A1", valid_id_number()),
        import_row("A6", known, name="孙八"),
        import_row("A7", valid_id_number(), expires_on="2019-01-01"),
    ]
    raw = csv_bytes(IMPORT_HEADER, rows)
    response = upload(api, token, raw, cert_type.code)
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid_rows" and error["rows_total"] == 7 and error["rows_bad"] == 6
    assert {(d["row"], d["field"], d["code"]) for d in error["details"]} == {
        (3, "holder_id", "invalid_id_number"),
        (3, "公民身份号码", "invalid_id_number"),
        (4, "出生日期", "invalid_date"),
        (4, "性别", "invalid_option"),
        (5, "issued_on", "missing_field"),
        (6, "paper_serial", "duplicate_row"),
        (7, "holder_name", "identity_mismatch"),
        (8, "expires_on", "expiry_before_issue"),
    }
    assert count(Certificate) == 0 and count(CertificateImport) == 0
    assert count(Person) == 1  # only the citizen who existed before


def test_skipping_bad_rows_imports_the_good_ones_and_reports_the_rest(api, setting):
    cert_type, token = setting
    rows = [
        import_row("B1", valid_id_number()),
        import_row("B2", "not-an-id"),
        import_row("B3", valid_id_number()),
    ]
    response = upload(api, token, csv_bytes(IMPORT_HEADER, rows), cert_type.code, skip="true")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["imported"], body["skipped_bad"]) == (2, 1)
    assert {(p["row"], p["field"]) for p in body["report"]["skipped"]} == {
        (3, "holder_id"),
        (3, "公民身份号码"),
    }
    assert count(Certificate) == 2


def test_importing_the_same_file_again_creates_no_duplicates(api, setting):
    cert_type, token = setting
    raw = good_file(4)
    assert upload(api, token, raw, cert_type.code).get_json()["imported"] == 4
    again = upload(api, token, raw, cert_type.code)
    assert again.status_code == 201
    assert (again.get_json()["imported"], again.get_json()["already_imported"]) == (0, 4)
    assert count(Certificate) == 4 and count(Person) == 4


def test_two_imports_of_the_same_file_at_once_create_no_duplicates(app, api, setting):
    cert_type, token = setting
    type_code, raw = cert_type.code, good_file(20)
    barrier = threading.Barrier(2)
    results = []

    def run():
        client = app.test_client()
        barrier.wait()
        response = client.post(
            "/api/mp/v1/certificate-imports",
            data={"type": type_code, "file": (io.BytesIO(raw), "a.csv")},
            content_type="multipart/form-data",
            headers={"Authorization": f"Bearer {token}"},
        )
        results.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count(Certificate) == 20
    imported = sorted(body.get("imported", 0) for status, body in results if status == 201)
    assert imported in ([0, 20], [20])
    assert all(status in (201, 409) for status, _ in results)


def test_expired_rows_are_reported_not_imported(api, setting):
    cert_type, token = setting
    yesterday = (clock.now().astimezone(clock.SHANGHAI).date() - timedelta(days=1)).isoformat()
    rows = [
        import_row("C1", valid_id_number()),
        import_row("C2", valid_id_number(), issued_on="2000-01-01", expires_on=yesterday),
    ]
    body = upload(api, token, csv_bytes(IMPORT_HEADER, rows), cert_type.code).get_json()
    assert (body["imported"], body["expired"]) == (1, 1)
    assert body["report"]["expired"] == [{"row": 3, "paper_serial": "C2", "expires_on": yesterday}]
    assert count(Certificate) == 1


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b"", 422, "empty_file"),
        (b"  \n\n", 422, "empty_file"),
        # What Excel writes for an empty sheet saved as "CSV UTF-8": a BOM and a line end.
        (BOM + b"\r\n", 422, "empty_file"),
        (BOM, 422, "empty_file"),
        (BOM + b" \r\n\t\r\n\r\n", 422, "empty_file"),
        ("\u3000\r\n \r\n".encode(), 422, "empty_file"),  # full-width spaces only
        (b",,,\r\n,,\r\n", 422, "empty_file"),  # rows of empty cells (formatted, no data)
        ("paper_serial,姓名\nx,张三\n".encode("gbk"), 422, "invalid_encoding"),
        (csv_bytes(IMPORT_HEADER, [], encoding="gbk"), 422, "invalid_encoding"),
        (b"\xff\xfe\x00p\x00a", 422, "invalid_encoding"),
        ("paper_serial,holder_name\r\n".encode("utf-16-le"), 422, "nul_character"),
        (b"paper_serial\x00,holder_name\r\n", 422, "nul_character"),
        (csv_bytes(IMPORT_HEADER, []), 422, "no_rows"),
        (BOM + csv_bytes(IMPORT_HEADER, []), 422, "no_rows"),
        (csv_bytes(IMPORT_HEADER, []) + b"\r\n  \r\n,,,\r\n", 422, "no_rows"),
        (b'paper_serial,"holder\n', 422, "malformed_csv"),
        (b'paper_serial,holder\nA,"x"y\n', 422, "malformed_csv"),
    ],
)
def test_a_bad_file_gets_its_own_error(api, setting, raw, status, code):
    cert_type, token = setting
    response = upload(api, token, raw, cert_type.code)
    assert response.status_code == status, response.get_json()
    assert error_of(response)["code"] == code and error_of(response)["field"] == "file"
    assert CHINESE.search(error_of(response)["message"])
    assert count(Certificate) == 0 and count(CertificateImport) == 0


def test_a_nul_in_a_cell_is_refused_naming_its_line(api, setting):
    cert_type, token = setting
    # In the holder's name: imported on SQLite, a 500 on PostgreSQL (text cannot hold NUL).
    raw = good_file(3).replace("赵1".encode(), "赵\x001".encode())
    response = upload(api, token, raw, cert_type.code, skip="true")
    assert response.status_code == 422, response.get_json()
    error = error_of(response)
    assert (error["code"], error["field"], error["line"]) == ("nul_character", "file", 3)
    assert "第 3 行" in error["message"]
    assert count(Certificate) == 0 and count(Person) == 0


def test_a_wrong_header_names_every_missing_and_unknown_column(api, setting):
    cert_type, token = setting
    header = [h for h in IMPORT_HEADER if h not in ("holder_id", "性别")] + ["血型", "血型"]
    response = upload(api, token, csv_bytes(header, [["x"] * len(header)]), cert_type.code)
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid_header"
    assert {(d["field"], d["code"]) for d in error["details"]} == {
        ("holder_id", "missing_column"),
        ("性别", "missing_column"),
        ("血型", "unknown_column"),
        ("血型", "duplicate_column"),
    }
    assert "holder_id" in error["expected"]


def test_a_file_with_a_bom_and_crlf_line_ends_is_fine(api, setting):
    cert_type, token = setting
    raw = "\ufeff".encode() + good_file(2).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    response = upload(api, token, raw, cert_type.code)
    assert response.status_code == 201, response.get_json()


def test_a_row_with_the_wrong_number_of_cells_is_a_bad_row(api, setting):
    cert_type, token = setting
    raw = good_file(1) + b"short,row\n"
    response = upload(api, token, raw, cert_type.code)
    assert [(d["row"], d["code"]) for d in error_of(response)["details"]] == [(3, "malformed_row")]


def test_a_row_with_more_cells_than_the_header_is_a_bad_row(api, setting):
    cert_type, token = setting
    extra = import_row("X1", valid_id_number()) + ["多出来的一格"]
    raw = good_file(1) + csv_bytes(IMPORT_HEADER, [extra]).split(b"\r\n", 1)[1]
    response = upload(api, token, raw, cert_type.code)
    assert response.status_code == 422, response.get_json()
    (problem,) = error_of(response)["details"]
    assert (problem["row"], problem["field"], problem["code"]) == (3, "row", "malformed_row")
    n = len(IMPORT_HEADER)
    assert problem["message"] == f"该行有 {n + 1} 列,表头有 {n} 列"
    assert count(Certificate) == 0
    skipped = upload(api, token, raw, cert_type.code, skip="true")
    assert skipped.status_code == 201, skipped.get_json()
    assert (skipped.get_json()["imported"], skipped.get_json()["skipped_bad"]) == (1, 1)


def test_blank_rows_are_skipped_but_rows_keep_their_spreadsheet_numbers(api, setting):
    cert_type, token = setting
    header, *rows = good_file(2).split(b"\r\n")[:3]
    bad = csv_bytes(IMPORT_HEADER, [import_row("P9", "not-an-id")]).split(b"\r\n")[1]
    # Rows: 1 blank, 2 header, 3 P0, 4 blank, 5 empty cells, 6 P1, 7 bad.
    raw = b"\r\n".join([b"", header, rows[0], b"  ", b",,,", rows[1], bad, b""])
    response = upload(api, token, raw, cert_type.code, skip="true")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["rows_total"], body["imported"], body["skipped_bad"]) == (3, 2, 1)
    assert {p["row"] for p in body["report"]["skipped"]} == {7}


@pytest.mark.parametrize(
    ("issued_on", "paper_issued_at", "field", "code"),
    [
        # midnight in Shanghai is before year 1 in UTC: once a 500
        ("0001-01-01", "", "issued_on", "invalid_date"),
        ("1899-12-31", "", "issued_on", "invalid_date"),
        ("2020-05-01", "0001-01-01T00:00:00", "paper_issued_at", "invalid_datetime"),
        ("2020-05-01", "0001-01-01T00:00:00+14:00", "paper_issued_at", "invalid_datetime"),
        ("2020-05-01", "1899-12-31T23:59:59+08:00", "paper_issued_at", "invalid_datetime"),
    ],
)
def test_a_date_before_1900_is_a_bad_row(api, setting, issued_on, paper_issued_at, field, code):
    cert_type, token = setting
    header = [*IMPORT_HEADER, "paper_issued_at"]
    row = import_row("E1", valid_id_number(), issued_on=issued_on) + [paper_issued_at]
    response = upload(api, token, csv_bytes(header, [row]), cert_type.code)
    assert response.status_code == 422, response.get_json()
    (problem,) = error_of(response)["details"]
    assert (problem["row"], problem["field"], problem["code"]) == (2, field, code)
    assert "1900-01-01" in problem["message"]
    assert count(Certificate) == 0


def test_an_oversized_file_or_too_many_rows_is_413(api, setting, app, monkeypatch):
    cert_type, token = setting
    monkeypatch.setitem(app.config, "CERTIFICATE_IMPORT_MAX_BYTES", 200)
    response = upload(api, token, good_file(5), cert_type.code)
    assert response.status_code == 413 and error_of(response)["code"] == "file_too_large"
    monkeypatch.setitem(app.config, "CERTIFICATE_IMPORT_MAX_BYTES", 10_000)
    monkeypatch.setitem(app.config, "CERTIFICATE_IMPORT_MAX_ROWS", 2)
    response = upload(api, token, good_file(3), cert_type.code)
    assert response.status_code == 413 and error_of(response)["code"] == "too_many_rows"
    assert count(Certificate) == 0


def test_the_form_fields_are_checked(api, setting):
    cert_type, token = setting
    response = api.post(
        "/certificate-imports", token=token, data={}, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert [d["field"] for d in error_of(response)["details"]] == ["file", "type"]
    response = upload(api, token, good_file(1), cert_type.code, skip="maybe")
    assert response.status_code == 400 and error_of(response)["field"] == "skip_bad_rows"
    response = upload(api, token, good_file(1), "no_such_type")
    assert response.status_code == 404


def test_only_officers_of_the_issuing_department_import(api, setting):
    cert_type, _ = setting
    other = api.login(officer_of(create_department()))
    response = upload(api, other, good_file(1), cert_type.code)
    assert response.status_code == 403 and error_of(response)["code"] == "forbidden"
    assert upload(api, None, good_file(1), cert_type.code).status_code == 401


def test_the_command_imports_with_a_progress_bar_and_reports(runner, tmp_path):
    cert_type = person_type()
    path = tmp_path / "history.csv"
    rows = [import_row(f"D{i}", valid_id_number()) for i in range(3)]
    path.write_bytes(csv_bytes(IMPORT_HEADER, rows + [import_row("D9", "bad")]))
    result = runner.invoke(args=["import-certificates", str(path), "--type", cert_type.code])
    assert result.exit_code == 1
    assert "invalid_rows" in result.output and "row 5 holder_id: invalid_id_number" in result.output
    assert count(Certificate) == 0
    result = runner.invoke(
        args=["import-certificates", str(path), "--type", cert_type.code, "--skip-bad-rows"]
    )
    assert result.exit_code == 0, result.output
    assert "4 rows, 3 imported, 0 already imported" in result.output
    assert "checking rows" in result.output and "100%" in result.output
    assert count(Certificate) == 3


def test_a_large_import_shares_the_sealing_with_a_helper_process(api, setting, monkeypatch):
    from backend.services import certificate_bulk
    from backend.services.sealing_helper import SealingHelper

    cert_type, token = setting
    monkeypatch.setattr(certificate_bulk, "HELPER_THRESHOLD", 1)
    monkeypatch.setattr(certificate_bulk, "CHUNK", 2)
    submitted = []
    submit = SealingHelper.submit

    def counting_submit(self, payloads):
        submitted.append(len(payloads))
        return submit(self, payloads)

    monkeypatch.setattr(SealingHelper, "submit", counting_submit)
    response = upload(api, token, good_file(7), cert_type.code)
    assert response.status_code == 201, response.get_json()
    assert submitted == [2, 1]  # of the chunks [2, 2, 2, 1], the 2nd and 4th went to the helper
    certificates = list(db.session.scalars(select(Certificate).order_by(Certificate.id)))
    assert len(certificates) == 7
    assert len({c.serial for c in certificates}) == 7
    for certificate in certificates:
        assert verify_certificate(certificate).ok, certificate.serial


def test_a_nul_in_a_cell_or_the_file_name_is_refused_naming_the_line(api, setting):
    """PostgreSQL cannot store a NUL: refused before any row is checked or stored."""
    cert_type, token = setting
    rows = good_file(3).split(b"\n")
    rows[2] = rows[2].replace(b",", b"\x00,", 1)
    response = upload(api, token, b"\n".join(rows), cert_type.code)
    assert response.status_code == 422, response.get_json()  # the file's content
    error = error_of(response)
    assert (error["code"], error["field"], error["line"]) == ("nul_character", "file", 3)
    # The file's name is a request field like any other: 400 invalid_character.
    response = upload(api, token, good_file(1), cert_type.code, name="a\x00.csv")
    assert response.status_code == 400
    assert (error_of(response)["code"], error_of(response)["field"]) == (
        "invalid_character",
        "file",
    )
    assert count(Certificate) == 0 and count(CertificateImport) == 0
