"""Browser fixtures: the app on a real HTTP server and headless Chromium sessions.

The server and the browsers are shared by the tests of one module (starting Chromium is the
slow part); every test still starts with empty tables, empty Redis and a browser without
cookies.
"""

from __future__ import annotations

import pytest

from tests.web.browser import Browser, LiveServer


@pytest.fixture(scope="module")
def live_server(app):
    server = LiveServer(app).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def _citizen_chromium(live_server, tmp_path_factory):
    browser = Browser(live_server.url, tmp_path_factory.mktemp("chromium-citizen"), "citizen")
    yield browser
    browser.quit()


@pytest.fixture(scope="module")
def _verifier_chromium(live_server, tmp_path_factory):
    browser = Browser(live_server.url, tmp_path_factory.mktemp("chromium-verifier"), "verifier")
    yield browser
    browser.quit()


@pytest.fixture
def browser(_citizen_chromium):
    """The holder's (or the public's) phone."""
    _citizen_chromium.reset()
    return _citizen_chromium


@pytest.fixture
def verifier_browser(_verifier_chromium):
    """A second, separate browser session: the clerk's phone."""
    _verifier_chromium.reset()
    return _verifier_chromium
