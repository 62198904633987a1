"""A company representative applies to a theme bundle with consent and sees the pre-filled
values, in the browser; the public browses the published bundles."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from backend.extensions import db
from backend.models.themes import ThemeApplication
from backend.services.seed import run_seed
from tests.factories import (
    PASSWORD,
    ApiClient,
    create_company,
    create_company_representative,
    create_person,
)
from tests.themes.factories import bundle_body, bundle_id, create_theme_admin, restaurant_licence

STEPS = ["departments", "certificate types", "service items", "verification routes"]


def test_a_representative_consents_sees_the_prefilled_form_and_applies_once(browser):
    run_seed([*STEPS, "theme bundles"], echo=lambda _: None)
    company = create_company(name="杭味餐饮管理有限公司")
    representative = create_company_representative(
        company, person=create_person(name="李华"), display_name="李华"
    )
    restaurant_licence(company)
    theme_id = bundle_id("open_restaurant")

    browser.open("/themes")
    assert "我要开餐馆" in browser.text("#themes")
    browser.check_page("themes")

    browser.login(representative)
    browser.open(f"/themes/{theme_id}")
    assert "营业执照" in browser.text("#exempt")
    browser.check_page("theme")
    browser.click("#apply")
    browser.wait_for("#consent-certificates")
    assert "营业执照" in browser.text("#consent-certificates")
    browser.check_page("theme-consent")
    browser.click("#give-consent")
    browser.wait_for("#theme-form")
    prefilled = {e.get_attribute("value") for e in browser.find_all("#theme-form input.prefilled")}
    assert {"杭味餐饮管理有限公司", company.credit_code, "李华"} <= prefilled
    browser.check_page("theme-form")
    browser.fill("#theme-form input:not([readonly]):not([type=hidden])", "杭州市西湖区文三路1号")
    browser.click("#submit-application")
    browser.wait_for("#parts")
    assert "杭州市西湖区文三路1号" in browser.text("#form-values")
    assert "杭味餐饮管理有限公司" in browser.text("#form-values")
    browser.check_page("application")
    browser.open("/applications")
    assert len(browser.find_all("#applications li")) == 1
    browser.check_page("applications")


def test_the_themes_list_is_public_and_a_bundle_shows_its_materials(client):
    run_seed([*STEPS, "theme bundles"], echo=lambda _: None)
    listing = client.get("/themes").get_data(as_text=True)
    assert "我要开餐馆" in listing
    page = client.get(f"/themes/{bundle_id('open_restaurant')}").get_data(as_text=True)
    assert "登录后申请" in page and "营业执照" in page
    assert client.get("/themes/999999").status_code == 404


def test_a_number_that_is_not_finite_on_the_theme_form_is_refused_not_a_500(client):
    """``float()`` reads "nan", "inf" and 5,000 nines; JSON (and PostgreSQL) cannot hold them."""
    run_seed([*STEPS, "theme bundles"], echo=lambda _: None)
    api = ApiClient(client)
    admin = api.login(create_theme_admin())
    bundle = api.post("/theme-bundles", json=bundle_body(), token=admin).get_json()
    api.post(f"/theme-bundles/{bundle['id']}/publish", token=admin)
    api.post("/auth/logout", token=admin)
    company = create_company(name="杭味餐饮管理有限公司")
    restaurant_licence(company)
    user = create_company_representative(company, person=create_person(name="李华"))
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    login = {"username": user.username, "password": PASSWORD, "csrf_token": token}
    client.post("/login", data=login)
    consented = client.post(f"/themes/{bundle['id']}/consent", data={"csrf_token": token})
    form_url = consented.headers["Location"]
    for seats in ("nan", "inf", "9" * 5000):
        response = client.post(
            form_url,
            data={
                "csrf_token": token,
                "idempotency_key": "odd-number-1",
                "field-2": "文三路1号",
                "field-3": "2026-07-01",
                "field-4": seats,
            },
        )
        assert response.status_code == 422, seats
        assert "座位数" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(ThemeApplication.id))) == 0
