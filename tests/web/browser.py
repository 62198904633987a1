"""Headless Debian Chromium at phone size, driven by Selenium, for the web app's tests.

Selenium is pointed at /usr/bin/chromedriver explicitly and runs offline, so Selenium Manager
never downloads a driver. Each page the tests visit can be checked with axe-core (injected
from a local file), screenshotted into ``artifacts/web/`` and weighed from the browser's own
performance entries.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.serving import make_server

from tests.factories import PASSWORD
from tests.web.assets import ROOT, ensure_axe

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PHONE_WIDTH, PHONE_HEIGHT = 390, 844
ARTIFACTS = ROOT / "artifacts" / "web"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--lang=zh-CN",
    "--disable-extensions",
    f"--window-size={PHONE_WIDTH},{PHONE_HEIGHT}",
]
WAIT_S = 10
# A page being replaced while a wait looks at it: try again on the next poll.
TRANSIENT = (NoSuchElementException, StaleElementReferenceException, WebDriverException)


class LiveServer:
    """The app served over real HTTP on 127.0.0.1 by a werkzeug server in a thread."""

    def __init__(self, app) -> None:
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@dataclass
class Weight:
    """Bytes moved, as the browser's performance entries report them."""

    transfer: int  # headers + encoded body over the wire (0 for a cache hit)
    encoded_body: int
    decoded_body: int
    entries: list[dict]


class Browser:
    """One Chromium session; ``name`` prefixes its screenshots."""

    def __init__(
        self, server_url: str, user_data_dir: Path, name: str, extra_flags: tuple[str, ...] = ()
    ) -> None:
        os.environ["SE_OFFLINE"] = "true"  # never let Selenium Manager reach the network
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (*CHROMIUM_FLAGS, *extra_flags):
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={user_data_dir}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(executable_path=CHROMEDRIVER, log_output=subprocess.DEVNULL)
        self.driver = webdriver.Chrome(options=options, service=service)
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": PHONE_WIDTH, "height": PHONE_HEIGHT, "deviceScaleFactor": 2, "mobile": True},
        )
        self.base = server_url
        self.name = name

    # --- navigation --------------------------------------------------------------------------

    def open(self, path: str) -> Browser:
        self.driver.get(self.base + path)
        return self

    @property
    def path(self) -> str:
        url = self.driver.current_url
        return url[len(self.base) :] if url.startswith(self.base) else url

    def find(self, css: str):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css: str = "main") -> str:
        return self.find(css).text

    def _wait(self, timeout: float) -> WebDriverWait:
        return WebDriverWait(self.driver, timeout, ignored_exceptions=TRANSIENT)

    def wait_for(self, css: str, timeout: float = WAIT_S):
        return self._wait(timeout).until(EC.visibility_of_element_located((By.CSS_SELECTOR, css)))

    def wait_for_text(self, css: str, text: str, timeout: float = WAIT_S) -> None:
        self._wait(timeout).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))

    def wait_until(self, predicate, timeout: float = WAIT_S):
        return self._wait(timeout).until(lambda _d: predicate())

    def fill(self, css: str, value: str) -> None:
        element = self.find(css)
        element.clear()
        element.send_keys(value)

    def click(self, css: str) -> None:
        self.find(css).click()

    def click_and_wait_for_new_page(self, css: str, timeout: float = WAIT_S) -> None:
        """Click, then wait until the page that was showing is gone (a form posted back to
        the same address would otherwise look "arrived" before the server answered)."""
        page = self.find("html")
        self.click(css)
        WebDriverWait(self.driver, timeout).until(EC.staleness_of(page))

    def submit(self, css: str = "main form button[type=submit]") -> None:
        self.click(css)

    def login(self, user, password: str = PASSWORD) -> None:
        self.open("/login")
        self.fill("#username", user.username)
        self.fill("#password", password)
        self.submit()
        self.wait_until(lambda: not self.path.startswith("/login"))

    def reset(self) -> None:
        """Forget cookies and storage between tests that share this browser."""
        self.open("/login")  # a page of this site, so its cookies and storage can be cleared
        self.driver.delete_all_cookies()
        self.driver.execute_script("window.localStorage.clear(); window.sessionStorage.clear();")
        self.driver.get_log("browser")

    def quit(self) -> None:
        self.driver.quit()

    # --- checks ------------------------------------------------------------------------------

    def screenshot(self, name: str) -> Path:
        """A full-length screenshot at phone width into artifacts/web/<browser>-<name>.png."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{name}.png"
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
        )
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def console_errors(self) -> list[str]:
        """Errors the page logged since the last call (script errors, CSP violations, failed
        requests), except the page's own error status, which an error page answers with."""
        page = self.driver.current_url.split("#")[0]
        return [
            e["message"]
            for e in self.driver.get_log("browser")
            if e["level"] == "SEVERE"
            and not (e.get("source") == "network" and e["message"].startswith(page + " "))
        ]

    def element_png(self, css: str) -> bytes:
        return self.find(css).screenshot_as_png

    def axe_violations(self) -> list[dict]:
        """axe-core's critical and serious violations on the current page (WCAG 2.1 A/AA)."""
        self.driver.execute_script(ensure_axe().read_text(encoding="utf-8"))
        result = self.driver.execute_async_script(
            """
            const done = arguments[arguments.length - 1];
            axe.run(document, {runOnly: {type: 'tag',
                values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})
              .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact,
                  help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))))
              .catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e)}]));
            """
        )
        return [v for v in result if v["impact"] in ("critical", "serious")]

    def check_page(self, name: str) -> None:
        """The checks every page gets: screenshot, accessibility, phone-width layout."""
        self.screenshot(name)
        problems = {
            "axe": self.axe_violations(),
            "wider_than_phone": self.overflowing_width() > PHONE_WIDTH,
            "wider_than_phone_at_200_percent_text": self.overflowing_width_at(2.0) > PHONE_WIDTH,
            "small_tap_targets": self.small_tap_targets(),
            "console_errors": self.console_errors(),
        }
        clean = {
            "axe": [],
            "wider_than_phone": False,
            "wider_than_phone_at_200_percent_text": False,
            "small_tap_targets": [],
            "console_errors": [],
        }
        assert problems == clean, (name, problems)

    def overflowing_width(self) -> int:
        return self.driver.execute_script("return document.documentElement.scrollWidth")

    def overflowing_width_at(self, text_scale: float) -> int:
        """Page width with the browser's text size scaled (as a user setting would)."""
        return self.driver.execute_script(
            """
            const root = document.documentElement, before = root.style.fontSize;
            root.style.fontSize = (arguments[0] * 100) + '%';
            const width = root.scrollWidth;
            root.style.fontSize = before;
            return width;
            """,
            text_scale,
        )

    def small_tap_targets(self) -> list[str]:
        """Visible controls smaller than 44x44 CSS px (a checkbox counts by its label)."""
        return self.driver.execute_script(
            """
            const out = [];
            for (const el of document.querySelectorAll(
                'a[href], button, input:not([type=hidden]), select, textarea, summary')) {
              let box = el;
              if (el.matches('input[type=checkbox], input[type=radio]') && el.closest('label'))
                box = el.closest('label');
              const r = box.getBoundingClientRect();
              if (r.width === 0 && r.height === 0) continue;  // not rendered
              if (el.classList.contains('skip-link') && r.right <= 0) continue;
              if (r.width < 44 || r.height < 44) out.push(
                (el.id || el.name || el.textContent.trim().slice(0, 20)) +
                ` ${Math.round(r.width)}x${Math.round(r.height)}`);
            }
            return out;
            """
        )

    def weight_of_page(self) -> Weight:
        """The navigation plus every resource the current page loaded."""
        entries = self.driver.execute_script(
            """
            const pick = e => ({name: e.name, type: e.entryType, transfer: e.transferSize,
                encoded: e.encodedBodySize, decoded: e.decodedBodySize});
            return performance.getEntriesByType('navigation').map(pick)
              .concat(performance.getEntriesByType('resource').map(pick));
            """
        )
        return _weight(entries)

    def weight_since_mark(self) -> Weight:
        """Resources fetched since ``mark_weight()``."""
        entries = self.driver.execute_script(
            """
            return performance.getEntriesByType('resource').map(e => ({name: e.name,
                type: e.entryType, transfer: e.transferSize, encoded: e.encodedBodySize,
                decoded: e.decodedBodySize}));
            """
        )
        return _weight(entries)

    def mark_weight(self) -> None:
        self.driver.execute_script(
            "performance.setResourceTimingBufferSize(1000); performance.clearResourceTimings();"
        )


def write_camera_video(path: Path, content: str, frames: int = 5) -> Path:
    """A Y4M clip of a QR code for Chromium's fake camera (--use-file-for-fake-video-capture)."""
    import qrcode
    from PIL import Image

    width, height = 640, 480
    code = qrcode.make(content, error_correction=qrcode.constants.ERROR_CORRECT_Q, box_size=6)
    code = code.convert("L")
    frame = Image.new("L", (width, height), 255)
    frame.paste(code, ((width - code.width) // 2, (height - code.height) // 2))
    luma = frame.tobytes()
    chroma = bytes([128]) * (width // 2 * height // 2)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + luma + chroma + chroma)
    return path


def _weight(entries: list[dict]) -> Weight:
    return Weight(
        transfer=sum(e["transfer"] for e in entries),
        encoded_body=sum(e["encoded"] for e in entries),
        decoded_body=sum(e["decoded"] for e in entries),
        entries=entries,
    )
