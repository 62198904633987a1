"""A caller the worker has seen before is confirmed by the request's token-store step.

Showing and scanning a code take a repeat caller from the worker's memory and let the one
token-store step they make (rotate, redeem) confirm, first and atomically, that the login
token still names the account and that the account has not changed. These tests change
the token or the account behind the worker's back and check that nothing slips through
and nothing is half done.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backend.extensions import db
from backend.models import UsageRecord
from backend.token_store import AUTH_TOKEN_PREFIX, CODE_CURRENT_PREFIX
from tests.codes.conftest import HOTEL_SCOPE, scan, show, show_ok
from tests.factories import (
    change_account_elsewhere,
    create_certificate,
    create_user,
    create_verifier_organisation,
)


@pytest.fixture
def chained_reads(app, monkeypatch):
    """Counts the token store's separate caller look-ups (the real store still answers)."""
    store = app.extensions["token_store"]
    calls = []
    real = store.get_chained

    def counted(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(store, "get_chained", counted)
    return calls


def _usage_records() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(UsageRecord))


def _log_out_elsewhere(app, token: str) -> None:
    """What a logout served by another worker does: the token is gone from the store,
    and this worker was not told."""
    app.extensions["token_store"].delete(AUTH_TOKEN_PREFIX + token)


def test_a_repeat_caller_costs_no_separate_look_up(api, world, chained_reads):
    first = show_ok(api, world.citizen_token, [world.id_card.id])
    assert scan(api, world.member_token, first["qr_content"]).status_code == 200
    assert len(chained_reads) == 2  # each caller looked up once
    second = show_ok(api, world.citizen_token, [world.id_card.id])
    scanned = scan(api, world.member_token, second["qr_content"])
    assert scanned.status_code == 200
    assert scanned.get_json()["certificates"][0]["fields"]["姓名"]
    assert len(chained_reads) == 2  # confirmed by the rotate and the redeem themselves


def test_a_scan_with_a_token_logged_out_elsewhere_consumes_nothing(app, api, world, chained_reads):
    warm = show_ok(api, world.citizen_token, [world.id_card.id])
    assert scan(api, world.member_token, warm["qr_content"]).status_code == 200
    code = show_ok(api, world.citizen_token, [world.id_card.id])
    before = _usage_records()
    _log_out_elsewhere(app, world.member_token)

    refused = scan(api, world.member_token, code["qr_content"])
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "invalid_token"
    assert _usage_records() == before
    # The code was not consumed: the member, logged in again, still scans it once.
    token = api.login(world.member)
    assert scan(api, token, code["qr_content"]).status_code == 200
    assert scan(api, token, code["qr_content"]).status_code == 409
    assert scan(api, world.member_token, code["qr_content"]).status_code == 401


def test_showing_with_a_token_logged_out_elsewhere_replaces_no_code(app, api, world):
    live = show_ok(api, world.citizen_token, [world.id_card.id])
    store = app.extensions["token_store"]
    pointer = f"{CODE_CURRENT_PREFIX}{world.citizen.id}:{world.id_card.id}"
    assert store.get(pointer) == live["token"]
    _log_out_elsewhere(app, world.citizen_token)

    refused = show(api, world.citizen_token, [world.id_card.id])
    assert refused.status_code == 401
    assert store.get(pointer) == live["token"]  # the shown code still works
    member_token = world.member_token
    assert scan(api, member_token, live["qr_content"]).status_code == 200


def test_an_error_for_a_provisional_caller_waits_for_its_check(app, api, world):
    """A request that fails before its token-store step still learns that its token is
    gone first: the answer is 401, never what the error would have told a valid caller."""
    show_ok(api, world.citizen_token, [world.id_card.id])
    warm = show_ok(api, world.citizen_token, [world.id_card.id])
    assert scan(api, world.member_token, warm["qr_content"]).status_code == 200
    stranger = create_certificate("id_card", holder=create_user().person)
    assert show(api, world.citizen_token, [stranger.id]).status_code == 404  # still valid
    assert scan(api, world.member_token, "nonsense").status_code == 400

    _log_out_elsewhere(app, world.citizen_token)
    _log_out_elsewhere(app, world.member_token)
    for refused in (
        show(api, world.citizen_token, [stranger.id]),  # not theirs: 404 before
        show(api, world.citizen_token, [world.id_card.id], ttl_s=5),  # bad ttl: 422 before
        scan(api, world.member_token, "nonsense"),  # malformed: 400 before
    ):
        assert refused.status_code == 401
        assert refused.get_json()["error"]["code"] == "invalid_token"


def test_a_member_moved_to_another_organisation_elsewhere_scans_for_the_new_one(
    app, make_app, api, world
):
    warm = show_ok(api, world.citizen_token, [world.id_card.id])
    assert scan(api, world.member_token, warm["qr_content"]).json["organisation"] == "西湖宾馆"
    other = create_verifier_organisation(name="钱塘酒店", scope=HOTEL_SCOPE)
    code = show_ok(api, world.citizen_token, [world.id_card.id])
    change_account_elsewhere(make_app(), world.member.id, verifier_organisation_id=other.id)

    scanned = scan(api, world.member_token, code["qr_content"])
    assert scanned.status_code == 200
    assert scanned.get_json()["organisation"] == "钱塘酒店"
    db.session.rollback()
    latest = db.session.scalars(select(UsageRecord).order_by(UsageRecord.id.desc())).first()
    assert latest.organisation_id == other.id


def test_a_holder_disabled_elsewhere_shows_no_code_and_counts_nothing(app, make_app, api, world):
    live = show_ok(api, world.citizen_token, [world.id_card.id])
    change_account_elsewhere(make_app(), world.citizen.id, enabled=False)
    refused = show(api, world.citizen_token, [world.id_card.id])
    assert refused.status_code == 401
    store = app.extensions["token_store"]
    pointer = f"{CODE_CURRENT_PREFIX}{world.citizen.id}:{world.id_card.id}"
    assert store.get(pointer) == live["token"]
