"""Citizens report an office that still demanded a proof; the supervisor reads the reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from backend import clock
from backend.extensions import db
from backend.models import Complaint, Role
from tests.factories import (
    create_company_representative,
    create_department,
    create_user,
    create_verifier_member,
    error_of,
)

NOON = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


def _report(**overrides) -> dict:
    body = {
        "office_name": "西湖区行政服务中心社保窗口",
        "demanded_material": "无犯罪记录证明",
        "occurred_on": "2026-06-14",
    }
    body.update(overrides)
    return body


def test_a_citizen_reports_an_office_and_the_supervisor_sees_it(api):
    citizen = create_user(display_name="王反映")
    department = create_department(name="市公安局测试")
    supervisor = create_user(Role.SUPERVISOR)
    with clock.frozen(NOON):
        created = api.post(
            "/complaints",
            json=_report(department_id=department.id, service_name="就业登记"),
            token=api.login(citizen),
        )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["department"]["name"] == "市公安局测试"
    assert created.get_json()["status"] == "submitted"
    listed = api.get("/complaints", token=api.login(supervisor)).get_json()
    assert listed["total"] == 1
    item = listed["items"][0]
    assert item["demanded_material"] == "无犯罪记录证明"
    assert item["reporter"]["display_name"] == "王反映"


def test_a_company_representative_may_report_too(api):
    rep = create_company_representative()
    with clock.frozen(NOON):
        response = api.post("/complaints", json=_report(), token=api.login(rep))
    assert response.status_code == 201


def test_only_the_supervisor_may_read_the_reports(api):
    citizen = create_user()
    verifier = create_verifier_member()
    assert api.get("/complaints", token=api.login(citizen)).status_code == 403
    assert api.get("/complaints", token=api.login(verifier)).status_code == 403
    assert api.get("/complaints").status_code == 401


def test_a_verifier_cannot_file_a_report(api):
    verifier = create_verifier_member()
    response = api.post("/complaints", json=_report(), token=api.login(verifier))
    assert response.status_code == 403


def test_a_report_dated_in_the_future_is_refused_with_the_field_named(api):
    citizen = create_user()
    with clock.frozen(NOON):
        response = api.post(
            "/complaints", json=_report(occurred_on="2026-06-16"), token=api.login(citizen)
        )
    assert response.status_code == 422
    assert error_of(response)["code"] == "date_in_future"
    assert error_of(response)["field"] == "occurred_on"


def test_a_report_older_than_a_year_is_refused(api):
    citizen = create_user()
    with clock.frozen(NOON):
        response = api.post(
            "/complaints", json=_report(occurred_on="2025-06-01"), token=api.login(citizen)
        )
    assert error_of(response)["code"] == "date_too_old"


def test_a_blank_office_and_an_unknown_field_are_refused_and_nothing_is_stored(api):
    citizen = create_user()
    token = api.login(citizen)
    with clock.frozen(NOON):
        blank = api.post("/complaints", json=_report(office_name="   "), token=token)
        unknown = api.post("/complaints", json=_report(extra="x"), token=token)
        bad_date = api.post("/complaints", json=_report(occurred_on="2026-02-30"), token=token)
        no_dept = api.post("/complaints", json=_report(department_id=999999), token=token)
    assert (blank.status_code, error_of(blank)["field"]) == (422, "office_name")
    assert (unknown.status_code, error_of(unknown)["field"]) == (400, "extra")
    assert (bad_date.status_code, error_of(bad_date)["field"]) == (400, "occurred_on")
    assert (no_dept.status_code, error_of(no_dept)["code"]) == (422, "unknown_department")
    assert db.session.scalar(select(func.count(Complaint.id))) == 0


def test_one_account_may_file_ten_reports_a_day(api):
    citizen = create_user()
    token = api.login(citizen)
    with clock.frozen(NOON):
        codes = [
            api.post("/complaints", json=_report(), token=token).status_code for _ in range(11)
        ]
    assert codes == [201] * 10 + [429]


def test_the_supervisor_filters_by_status_and_pages_newest_first(api):
    citizen = create_user()
    supervisor = create_user(Role.SUPERVISOR)
    token = api.login(citizen)
    with clock.frozen(NOON):
        for n in range(3):
            body = _report(office_name=f"窗口{n}")
            assert api.post("/complaints", json=body, token=token).status_code == 201
            clock.advance(timedelta(minutes=1))
    sup = api.login(supervisor)
    page = api.get("/complaints?per_page=2&page=1", token=sup).get_json()
    assert [i["office_name"] for i in page["items"]] == ["窗口2", "窗口1"]
    assert page["total"] == 3
    handled = api.get("/complaints?status=handled", token=sup).get_json()
    assert handled["total"] == 0
    bad = api.get("/complaints?status=lost", token=sup)
    assert bad.status_code == 400 and error_of(bad)["field"] == "status"
