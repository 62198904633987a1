"""The page frame in a real browser: login, layout at phone size, large text, headers."""

from __future__ import annotations

from tests.factories import create_user
from tests.web.browser import PHONE_WIDTH


def test_the_home_and_login_pages_pass_axe_and_fit_a_phone(browser):
    browser.open("/")
    assert "材料减免清单" in browser.text(".tiles")
    browser.check_page("home-anonymous")
    browser.open("/login")
    browser.check_page("login")


def test_a_citizen_logs_in_through_the_form_and_sees_their_services(browser):
    user = create_user(display_name="张测试")
    browser.login(user)
    assert "张测试,您好" in browser.text("h1")
    browser.check_page("home-citizen")


def test_the_large_text_mode_is_remembered_and_the_page_still_fits(browser):
    browser.open("/login")
    normal = browser.driver.execute_script(
        "return parseFloat(getComputedStyle(document.querySelector('h1')).fontSize)"
    )
    browser.click("#text-size-toggle")
    browser.wait_for("html.large-text h1")
    browser.open("/login")  # remembered across pages
    assert browser.find("#text-size-toggle").get_attribute("aria-pressed") == "true"
    large = browser.driver.execute_script(
        "return parseFloat(getComputedStyle(document.querySelector('h1')).fontSize)"
    )
    assert large > normal * 1.2
    assert browser.overflowing_width() <= PHONE_WIDTH
    browser.click("#text-size-toggle")
    browser.wait_for("html:not(.large-text) h1")
