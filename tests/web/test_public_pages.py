"""The public exemption list: anyone searches it in the browser."""

from __future__ import annotations

from tests.service_items.factories import create_item


def test_anyone_searches_the_public_exemption_list_and_finds_an_item(browser, seeded):
    create_item(state="published", handling_item="食品经营许可(新办)")
    create_item(state="published", handling_item="公共场所卫生许可(新办)")
    create_item(state="draft", handling_item="食品经营许可(草稿)")
    browser.open("/exemption-list")
    browser.check_page("exemption-list")
    browser.fill("#q", "食品经营")
    browser.click("#search-submit")
    browser.wait_until(lambda: "q=" in browser.path)
    browser.wait_for_text("#result-count", "共 1 个事项")
    items = browser.text("#exemption-items")
    assert "食品经营许可(新办)" in items
    assert "已关联电子证照证明,可免提交" in items
    assert "公共场所卫生许可" not in items and "草稿" not in items
    browser.check_page("exemption-list-search")
