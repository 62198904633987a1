"""A citizen follows the verification requests about them, with each one's timeline."""

from __future__ import annotations

from types import SimpleNamespace

from backend.models import Role
from tests.factories import create_department, create_officer, create_user
from tests.verification.factories import bring_to, create_route


def _world():
    asking = create_department("amr", "市市场监督管理局")
    answering = create_department("health", "市卫生健康委员会")
    return SimpleNamespace(
        asking=asking,
        requester=create_officer(asking, display_name="市场监管窗口"),
        responder=create_officer(answering, display_name="卫健委窗口"),
        citizen=create_user(Role.CITIZEN, display_name="王小明"),
        person_route=create_route(
            "practitioner_health_proof", "从业人员健康合格证明", answering, "person"
        ),
    )


def test_a_citizen_follows_a_verification_request_and_its_timeline(browser):
    world = _world()
    request = bring_to(world, "answered")
    browser.login(world.citizen)
    browser.open("/verification-requests")
    assert "从业人员健康合格证明" in browser.text("#verification-requests")
    browser.check_page("verification-requests")
    browser.click("#verification-requests a")
    browser.wait_for("#timeline")
    assert browser.path == f"/verification-requests/{request.id}"
    timeline = browser.text("#timeline")
    assert "发起协查" in timeline and "受理" in timeline and "答复" in timeline
    assert "市卫生健康委员会" in browser.text()
    browser.check_page("verification-request")


def test_a_citizen_cannot_open_someone_elses_request(client, app):
    import re

    from tests.factories import PASSWORD

    world = _world()
    request = bring_to(world, "submitted")
    stranger = create_user(Role.CITIZEN)
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    client.post(
        "/login", data={"username": stranger.username, "password": PASSWORD, "csrf_token": token}
    )
    assert client.get(f"/verification-requests/{request.id}").status_code == 403
    assert "从业人员健康合格证明" not in client.get("/verification-requests").get_data(as_text=True)
