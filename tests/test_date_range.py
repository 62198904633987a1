"""Every date input is a real day from 1900-01-01 to 2199-12-31, whatever the channel.

Dates near year 1 or year 9999 passed validation, then overflowed in date arithmetic
(``until`` plus a day, midnight in Shanghai as UTC): OverflowError, a 500. Each channel now
refuses them as it refuses a malformed date, naming the field.
"""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from backend.extensions import db
from backend.models import Certificate, Complaint, Role
from backend.validation import parse_day, parse_moment
from tests.certificates.helpers import (
    IMPORT_HEADER,
    csv_bytes,
    import_row,
    issue_body,
    officer_of,
    person_type,
)
from tests.factories import (
    create_department,
    create_officer,
    create_user,
    error_of,
    valid_id_number,
)

FAR = ("0001-01-01", "1899-12-31", "2200-01-01", "9999-12-31")


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/supervision/usage?until={}", "until"),
        ("/supervision/usage?since={}", "since"),
        ("/supervision/issuance-rate?until={}", "until"),
        ("/supervision/issuance-rate?since={}", "since"),
        ("/supervision/verification-figures?to={}", "to"),
        ("/supervision/verification-figures?from={}", "from"),
    ],
)
def test_supervision_figures_refuse_a_day_out_of_range_naming_it(api, path, field):
    token = api.login(create_user(Role.SUPERVISOR))
    for day in FAR:
        response = api.get(path.format(day), token=token)
        assert response.status_code == 400, (day, response.get_json())
        error = error_of(response)
        assert (error["code"], error["field"]) == ("invalid_date", field)
        assert "1900-01-01" in error["message"] and "2199-12-31" in error["message"]
    for day in ("1900-01-01", "2199-12-31"):
        assert api.get(path.format(day), token=token).status_code == 200


def test_issuing_refuses_a_paper_issue_time_or_a_date_out_of_range(api):
    cert_type = person_type()
    token = api.login(officer_of(cert_type.department))
    for value in ("0001-01-01", "0001-01-01T00:00:00", "1899-12-31T23:59:59+08:00"):
        response = api.post(
            "/certificates", token=token, json=issue_body(cert_type, paper_issued_at=value)
        )
        assert response.status_code == 422, (value, response.get_json())
        error = error_of(response)
        assert (error["code"], error["field"]) == ("invalid_datetime", "paper_issued_at")
    body = issue_body(cert_type, issued_on="0001-01-01", expires_on="9999-12-31")
    body["fields"]["出生日期"] = "0001-01-01"
    response = api.post("/certificates", token=token, json=body)
    assert response.status_code == 422
    assert {(d["field"], d["code"]) for d in error_of(response)["details"]} == {
        ("issued_on", "invalid_date"),
        ("expires_on", "invalid_date"),
        ("出生日期", "invalid_date"),
    }
    assert db.session.scalar(select(func.count(Certificate.id))) == 0
    response = api.post(
        "/certificates", token=token, json=issue_body(cert_type, paper_issued_at="1900-01-01")
    )
    assert response.status_code == 201, response.get_json()


def test_an_import_row_with_a_day_out_of_range_is_a_bad_row(api):
    cert_type = person_type()
    token = api.login(officer_of(cert_type.department))
    header = [*IMPORT_HEADER, "paper_issued_at"]
    rows = [
        [*import_row("P1", valid_id_number(), issued_on="0001-01-01"), ""],
        [*import_row("P2", valid_id_number()), "0001-01-01"],
        [*import_row("P3", valid_id_number(), 出生日期="9999-12-31"), ""],
    ]
    response = api.post(
        "/certificate-imports",
        token=token,
        data={"type": cert_type.code, "file": (io.BytesIO(csv_bytes(header, rows)), "a.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422, response.get_json()
    assert {(d["row"], d["field"], d["code"]) for d in error_of(response)["details"]} == {
        (2, "issued_on", "invalid_date"),
        (3, "paper_issued_at", "invalid_datetime"),
        (4, "出生日期", "invalid_date"),
    }
    assert db.session.scalar(select(func.count(Certificate.id))) == 0


def test_a_complaint_or_a_verification_deadline_out_of_range_is_refused(api):
    token = api.login(create_user())
    body = {"office_name": "窗口", "demanded_material": "证明", "occurred_on": "0001-01-01"}
    response = api.post("/complaints", token=token, json=body)
    assert response.status_code == 400, response.get_json()
    error = error_of(response)
    assert (error["code"], error["field"]) == ("invalid_date", "occurred_on")
    assert db.session.scalar(select(func.count(Complaint.id))) == 0
    officer = api.login(create_officer(create_department()))
    body = {
        "subject": {"id_number": valid_id_number()},
        "proof_type": "x",
        "question": "q",
        "purpose": "p",
        "legal_basis": "b",
        "deadline": "9999-12-31",
    }
    response = api.post("/verification-requests", token=officer, json=body)
    assert response.status_code == 400, response.get_json()
    error = error_of(response)
    assert (error["code"], error["field"]) == ("invalid_date", "deadline")


def test_the_shared_parsers_take_only_existing_days_in_range_in_ascii_digits():
    assert parse_day("1900-01-01") == date(1900, 1, 1)
    assert parse_day(" 2199-12-31 ") == date(2199, 12, 31)
    for bad in ("0001-01-01", "9999-12-31", "2024-02-30", "２０２４-01-01", "20240101", "", None):
        assert parse_day(bad) is None, bad
    assert parse_day(date(1, 1, 1)) is None and parse_day(date(2024, 1, 1)) == date(2024, 1, 1)
    assert parse_moment("2024-03-01T09:30:00") == datetime(2024, 3, 1, 9, 30)
    for bad in ("0001-01-01", "9999-12-31T23:59:59", "yesterday", "2024-13-01T00:00"):
        assert parse_moment(bad) is None, bad
