"""The "still asked for a proof" form: a citizen reports in the browser; errors are shown."""

from __future__ import annotations

from sqlalchemy import select

from backend.extensions import db
from backend.models import Complaint
from tests.factories import (
    create_department,
    create_user,
    create_verifier_member,
    web_login,
)


def test_a_citizen_reports_an_office_through_the_form_in_the_browser(browser):
    create_department(name="市人力社保测试局")
    user = create_user()
    browser.login(user)
    browser.open("/complaints/new")
    browser.check_page("complaint-form")
    browser.fill("#office_name", "西湖区社保窗口")
    browser.find("#department_id").send_keys("市人力社保测试局")
    browser.fill("#demanded_material", "参保缴费证明")
    browser.submit()
    browser.wait_for_text("main", "已提交,感谢您的反映")
    assert "西湖区社保窗口" in browser.text()
    browser.check_page("complaint-list")
    stored = db.session.scalars(select(Complaint)).one()
    assert (stored.reporter_id, stored.department.name) == (user.id, "市人力社保测试局")


def test_a_form_missing_the_office_is_shown_again_with_the_error_next_to_the_field(client):
    user = create_user()
    token = web_login(client, user)
    response = client.post(
        "/complaints/new",
        data={"csrf_token": token, "office_name": " ", "demanded_material": "证明"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="office_name-error"' in html and "请正确填写办事单位" in html
    assert 'value="证明"' in html  # what was typed is kept
    assert db.session.scalars(select(Complaint)).first() is None


def test_the_report_form_limits_lengths_with_real_attributes(client):
    web_login(client, create_user())
    html = client.get("/complaints/new").get_data(as_text=True)
    assert 'id="office_name" name="office_name"' in html and 'maxlength="200"' in html
    assert "=&#34;" not in html  # no attribute escaped into text


def test_the_report_form_refuses_a_post_without_its_csrf_token(client):
    user = create_user()
    web_login(client, user)
    response = client.post(
        "/complaints/new",
        data={"office_name": "窗口", "demanded_material": "证明", "occurred_on": "2026-01-01"},
    )
    assert response.status_code == 400
    assert db.session.scalars(select(Complaint)).first() is None


def test_a_verifier_cannot_open_the_report_form(client):
    web_login(client, create_verifier_member())
    assert client.get("/complaints/new").status_code == 403


def test_an_anonymous_visitor_is_sent_to_log_in(client):
    response = client.get("/complaints/new")
    assert response.status_code == 302 and "/login" in response.location
