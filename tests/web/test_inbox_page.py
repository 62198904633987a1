"""The inbox: the header's unread badge, reading a notification, following its link."""

from __future__ import annotations

from backend.extensions import db
from notifications.service import notify
from tests.factories import create_user, create_verifier_member


def _notify(user, title: str, link: str | None = None) -> None:
    notify(user.id, "campaign", title, f"{title}的详细说明", link)
    db.session.commit()


def test_the_badge_counts_unread_notifications_and_reading_one_follows_its_link(browser):
    citizen = create_user()
    _notify(citizen, "驾驶证即将到期")
    _notify(citizen, "您的协查已答复", link="/verification-requests")
    browser.login(citizen)
    assert browser.text("#unread-badge").startswith("2")
    browser.click("#inbox-link")
    browser.wait_for("#notifications")
    assert "驾驶证即将到期" in browser.text("#notifications")
    browser.check_page("inbox-unread")
    link_card = next(
        card for card in browser.find_all(".notification") if "协查已答复" in card.text
    )
    link_card.find_element("css selector", "button[type=submit]").click()
    browser.wait_until(lambda: browser.path == "/verification-requests")
    assert browser.text("#unread-badge").startswith("1")


def test_a_notification_pointing_off_site_goes_back_to_the_inbox(browser):
    citizen = create_user()
    _notify(citizen, "外部链接", link="https://example.com/phish")
    browser.login(citizen)
    browser.open("/inbox")
    browser.click_and_wait_for_new_page(".notification button[type=submit]")
    browser.wait_until(lambda: browser.path == "/inbox")
    assert browser.find_all("#unread-badge") == []


def test_a_clerk_reads_the_inbox_too(browser):
    clerk = create_verifier_member()
    _notify(clerk, "本单位授权范围已更新")
    browser.login(clerk)
    browser.open("/inbox")
    assert "本单位授权范围已更新" in browser.text("#notifications")
    browser.check_page("inbox-clerk")
