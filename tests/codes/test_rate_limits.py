"""Too many attempts by one verifier member or one holder answer 429 ``rate_limited``."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backend.extensions import db
from backend.models import UsageRecord
from tests.codes.conftest import scan, show, show_ok
from tests.factories import create_verifier_member, error_of

UNKNOWN = "http://127.0.0.1:8000/c/" + "A" * 22


@pytest.fixture
def low_limits(app, monkeypatch):
    monkeypatch.setitem(app.config, "RATE_LIMIT_SCANS", "3/minute")
    monkeypatch.setitem(app.config, "RATE_LIMIT_CODES", "2/minute")
    monkeypatch.setitem(app.config, "RATE_LIMIT_OFFLINE_VERIFY", "2/minute")


def test_a_member_making_too_many_scan_attempts_is_rate_limited(api, world, low_limits):
    for _ in range(3):
        assert scan(api, world.member_token, UNKNOWN).status_code == 404
    code = show_ok(api, world.citizen_token, [world.id_card.id])
    response = scan(api, world.member_token, code["qr_content"])
    assert response.status_code == 429
    assert error_of(response)["code"] == "rate_limited"
    assert error_of(response)["retry_after_s"] == 60
    assert db.session.scalar(select(func.count()).select_from(UsageRecord)) == 0
    colleague = api.login(create_verifier_member(world.hotel))
    assert scan(api, colleague, code["qr_content"]).status_code == 200  # not consumed before


def test_a_holder_asking_for_too_many_codes_is_rate_limited(api, world, low_limits):
    for _ in range(2):
        show_ok(api, world.citizen_token, [world.id_card.id])
    response = show(api, world.citizen_token, [world.id_card.id])
    assert response.status_code == 429
    assert error_of(response)["code"] == "rate_limited"


def test_checking_offline_codes_is_rate_limited_per_client(api, world, low_limits):
    for _ in range(2):
        assert api.post("/offline-codes/verify", json={"code": "CFC1.x.y"}).status_code == 400
    response = api.post("/offline-codes/verify", json={"code": "CFC1.x.y"})
    assert response.status_code == 429 and error_of(response)["code"] == "rate_limited"
