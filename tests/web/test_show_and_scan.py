"""Done-when flows in real browsers: a citizen shows a code, a clerk scans it on another phone.

Drives Chromium through the pages only (never the API directly): log in, choose a
certificate, show the QR code, decode it from a screenshot with a real QR decoder, type the
code content into the clerk's scan page, read the scoped result, and see the use come back
to the citizen as a confirmation, a usage record and an inbox badge.
"""

from __future__ import annotations

import io
import json

from PIL import Image
from pyzbar import pyzbar

from tests.factories import (
    create_certificate,
    create_certificate_type,
    create_user,
    create_verifier_member,
    create_verifier_organisation,
)
from tests.web.browser import ARTIFACTS, Browser, write_camera_video

FIELDS = [
    {"name": "姓名", "type": "text", "required": True, "max_length": 50},
    {"name": "公民身份号码", "type": "id_number", "required": True},
    {"name": "住址", "type": "text", "required": True, "max_length": 100},
]
PAGE_BUDGET_BYTES = 50_000
REFRESH_BUDGET_BYTES = 2_000


def _citizen_with_certificate(name: str = "张明"):
    cert_type = create_certificate_type(code="id_card_web", name="居民身份证", fields=FIELDS)
    citizen = create_user(display_name=name)
    certificate = create_certificate(
        cert_type,
        holder=citizen.person,
        fields={
            "姓名": citizen.person.name,
            "公民身份号码": _id_of(citizen),
            "住址": "西湖区某路1号",
        },
    )
    return citizen, certificate


def _id_of(user) -> str:
    from backend.services.accounts import person_id_number

    return person_id_number(user.person)


def _clerk(scope_fields=("姓名",)):
    org = create_verifier_organisation(
        name="西湖宾馆前台", scope={"id_card_web": list(scope_fields)}
    )
    return create_verifier_member(org, display_name="前台小王")


def _show_code(browser, certificate_id: int) -> str:
    browser.open("/show-code")
    browser.click(f"input[name=certificate][value='{certificate_id}']")
    browser.click("#show-code-submit")
    browser.wait_for("#qr svg")
    return browser.find("#show-code").get_attribute("data-qr-content")


def _decode_qr(png: bytes) -> str:
    found = pyzbar.decode(Image.open(io.BytesIO(png)))
    assert len(found) == 1, found
    return found[0].data.decode()


def test_a_citizen_shows_a_code_a_clerk_scans_it_and_the_citizen_sees_the_use(
    browser, verifier_browser
):
    citizen, certificate = _citizen_with_certificate()
    clerk = _clerk()

    browser.login(citizen)
    tiles = browser.text(".tiles")
    assert all(t in tiles for t in ("我的证照", "亮码", "用证记录", "消息", "材料减免清单"))
    browser.open("/show-code")
    browser.check_page("choose-certificates")
    browser.open("/me")
    browser.check_page("me")
    qr_content = _show_code(browser, certificate.id)
    assert qr_content.startswith("http")
    assert _decode_qr(browser.element_png("#qr")) == qr_content
    browser.wait_for_text("#countdown", "秒后自动刷新")
    browser.check_page("show-code")

    verifier_browser.login(clerk)
    verifier_browser.check_page("home-verifier")
    verifier_browser.open("/scan")
    verifier_browser.check_page("scan")
    verifier_browser.fill("#purpose", "入住登记")
    verifier_browser.fill("#qr_content", qr_content)
    verifier_browser.click("#scan-submit")
    verifier_browser.wait_for("#verdict")
    result = verifier_browser.text()
    assert "有效" in verifier_browser.text("#verdict")
    assert "电子印章验证通过" in result
    assert citizen.person.name in result  # in scope
    assert "西湖区某路1号" not in result and _id_of(citizen) not in result  # out of scope
    verifier_browser.check_page("scan-result")

    browser.wait_for_text("#shown", "已向 西湖宾馆前台 出示")
    assert not browser.find("#qr").is_displayed()
    browser.open("/usage-records")
    assert "西湖宾馆前台" in browser.text("#usage-records")
    assert "入住登记" in browser.text("#usage-records")
    assert browser.text("#unread-badge").startswith("1")
    browser.check_page("usage-records")

    browser.click("#usage-records details summary")
    browser.fill("#usage-records textarea", "我当时不在该宾馆")
    browser.click("#usage-records form button[type=submit]")
    browser.wait_for_text("main", "已举报")

    browser.click("#inbox-link")
    browser.wait_for("#notifications")
    assert "西湖宾馆前台" in browser.text("#notifications")
    browser.check_page("inbox")

    verifier_browser.open("/scans")
    assert "居民身份证" in verifier_browser.text()
    verifier_browser.check_page("scan-history")


def test_a_used_code_typed_again_is_refused_in_big_letters(browser, verifier_browser):
    citizen, certificate = _citizen_with_certificate()
    clerk = _clerk()
    browser.login(citizen)
    qr_content = _show_code(browser, certificate.id)
    verifier_browser.login(clerk)
    for expected in ("#verdict", "#scan-error"):
        verifier_browser.open("/scan")
        verifier_browser.fill("#qr_content", qr_content)
        verifier_browser.click("#scan-submit")
        verifier_browser.wait_for(expected)
    assert "无法核验" in verifier_browser.text("#scan-error")
    assert "已被使用" in verifier_browser.text("#scan-error")
    verifier_browser.check_page("scan-refused")


def test_the_show_code_page_weighs_under_50_kb_and_a_refresh_under_2_kb(browser):
    citizen, certificate = _citizen_with_certificate()
    browser.login(citizen)
    _show_code(browser, certificate.id)
    browser.driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    browser.driver.get(browser.driver.current_url)  # the show-code page with a cold cache
    browser.wait_for("#qr svg")
    first = browser.find("#show-code").get_attribute("data-qr-content")
    browser.wait_until(lambda: len(browser.weight_of_page().entries) >= 5)
    page = browser.weight_of_page()
    assert page.transfer <= PAGE_BUDGET_BYTES, page.entries
    for entry in page.entries:
        if entry["decoded"] > 1_000:  # every sizeable response came compressed
            assert entry["encoded"] < entry["decoded"] * 0.7, entry

    browser.mark_weight()
    browser.click("#refresh")
    browser.wait_until(lambda: browser.find("#show-code").get_attribute("data-qr-content") != first)
    refreshes = [e for e in browser.weight_since_mark().entries if e["name"].endswith("/codes")]
    assert len(refreshes) == 1
    assert 0 < refreshes[0]["transfer"] <= REFRESH_BUDGET_BYTES, refreshes
    second = browser.find("#show-code").get_attribute("data-qr-content")
    assert _decode_qr(browser.element_png("#qr")) == second

    browser.driver.get(browser.driver.current_url)  # a second visit: assets come from cache
    browser.wait_for("#qr svg")
    cached = [e for e in browser.weight_of_page().entries if "/static/" in e["name"]]
    assert cached and all(e["transfer"] == 0 for e in cached), cached
    (ARTIFACTS / "show-code-weight.json").write_text(
        json.dumps({"page": page.__dict__, "refresh": refreshes[0]}, indent=1)
    )


def test_the_code_refreshes_itself_before_expiry_without_reloading_the_page(browser, app):
    citizen, certificate = _citizen_with_certificate()
    browser.login(citizen)
    previous = app.config["CODE_TTL_S"]
    app.config["CODE_TTL_S"] = 15  # the shortest allowed: refreshed after 7 s
    try:
        first = _show_code(browser, certificate.id)
        browser.driver.execute_script("window.notReloaded = true")
        browser.wait_until(
            lambda: browser.find("#show-code").get_attribute("data-qr-content") != first,
            timeout=30,
        )
    finally:
        app.config["CODE_TTL_S"] = previous
    assert browser.driver.execute_script("return window.notReloaded === true")
    second = browser.find("#show-code").get_attribute("data-qr-content")
    assert _decode_qr(browser.element_png("#qr")) == second


def test_a_clerk_scans_the_code_with_the_phone_camera(browser, live_server, tmp_path):
    """The scan page's camera path: Chromium's fake camera films the citizen's QR code."""
    citizen, certificate = _citizen_with_certificate()
    clerk = _clerk()
    browser.login(citizen)
    qr_content = _show_code(browser, certificate.id)
    video = write_camera_video(tmp_path / "camera.y4m", qr_content)
    camera = Browser(
        live_server.url,
        tmp_path / "chromium-camera",
        "camera",
        extra_flags=(
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ),
    )
    try:
        camera.login(clerk)
        camera.open("/scan")
        camera.click("#start-camera")
        camera.wait_for("#verdict", timeout=20)
        assert "有效" in camera.text("#verdict")
    finally:
        camera.quit()
    browser.wait_for_text("#shown", "已向 西湖宾馆前台 出示")
