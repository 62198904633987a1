"""A live code's token never reaches the app's access log: it is a bearer credential."""

from __future__ import annotations

import logging

from tests.codes.conftest import show_ok
from tests.factories import ApiClient


def test_the_access_log_redacts_code_tokens(world, api, make_app, caplog):
    shown = show_ok(api, world.citizen_token, [world.id_card.id])
    token = shown["token"]
    logged = ApiClient(make_app(ACCESS_LOG=True).test_client())
    caplog.set_level(logging.INFO, logger="access")

    assert logged.get(f"/codes/{token}", token=world.citizen_token).status_code == 200
    assert logged.get(f"/codes/{token}/qr.png", token=world.citizen_token).status_code == 200
    assert logged.client.get(f"/c/{token}").status_code == 200
    assert logged.get("/usage-records", token=world.citizen_token).status_code == 200

    lines = [r.getMessage() for r in caplog.records if r.name == "access"]
    assert lines == [
        "GET /api/mp/v1/codes/[redacted] 200",
        "GET /api/mp/v1/codes/[redacted]/qr.png 200",
        "GET /c/[redacted] 200",
        "GET /api/mp/v1/usage-records 200",
    ]
    assert not any(token in r.getMessage() for r in caplog.records)


def test_the_access_log_is_off_in_tests_by_default(world, api, caplog):
    caplog.set_level(logging.INFO, logger="access")
    api.get("/usage-records", token=world.citizen_token)
    assert [r for r in caplog.records if r.name == "access"] == []
