"""Showing and scanning a code take the caller as a read-only snapshot, without a session.

The snapshot comes from the same worker copy as the full account, so it follows every
change made in another worker at once, and a request that reads only the caller's columns
on PostgreSQL checks out no pooled connection at all.
"""

from __future__ import annotations

import dataclasses

import pytest
from cachetools import TTLCache
from sqlalchemy import event

from backend import db_driver
from backend.caller_cache import AccountSnapshot, load_snapshot
from backend.extensions import db
from backend.models import Role
from backend.token_store import USER_VERSION_PREFIX
from tests.codes.conftest import scan, show, show_ok
from tests.factories import change_account_elsewhere


def test_a_snapshot_is_read_only_and_holds_the_accounts_columns(app, world):
    db.session.commit()
    version = app.extensions["token_store"].get(f"{USER_VERSION_PREFIX}{world.member.id}")
    snapshot = load_snapshot(world.member.id, version)
    assert isinstance(snapshot, AccountSnapshot)
    assert snapshot.id == world.member.id
    assert snapshot.role == Role.VERIFIER_MEMBER
    assert snapshot.verifier_organisation_id == world.hotel.id
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.role = Role.SYSTEM_ADMINISTRATOR
    assert load_snapshot(world.member.id, version) is snapshot  # the worker's one copy


def test_a_member_disabled_in_another_worker_can_no_longer_scan(app, make_app, api, world):
    code = show_ok(api, world.citizen_token, [world.id_card.id])
    assert show(api, world.citizen_token, [world.id_card.id]).status_code == 201
    assert world.member.id not in app.extensions["caller_cache"]  # not called yet
    change_account_elsewhere(make_app(), world.member.id, enabled=False)
    refused = scan(api, world.member_token, code["qr_content"])
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "invalid_token"


def test_a_holder_whose_role_changed_in_another_worker_is_refused_at_once(
    app, make_app, api, world
):
    assert show(api, world.citizen_token, [world.id_card.id]).status_code == 201
    assert world.citizen.id in app.extensions["caller_cache"]  # served from the copy next
    change_account_elsewhere(make_app(), world.citizen.id, role=Role.VERIFIER_MEMBER)
    refused = show(api, world.citizen_token, [world.id_card.id])
    assert refused.status_code == 403


def test_showing_and_scanning_check_out_no_pooled_connection(app, api, world, monkeypatch):
    """On PostgreSQL the hot paths read on the thread's own connection and take the
    caller as a snapshot: the request's session never opens (SQLite: it does). The
    organisation's scope is kept as in production (tests read it every time)."""
    monkeypatch.setitem(app.config, "SCOPE_CACHE_TTL_S", 5)
    monkeypatch.setitem(app.extensions, "scope_cache", TTLCache(16, 5))  # gone again after
    show_ok(api, world.citizen_token, [world.id_card.id])
    first = show_ok(api, world.citizen_token, [world.id_card.id])
    assert scan(api, world.member_token, first["qr_content"]).status_code == 200
    second = show_ok(api, world.citizen_token, [world.id_card.id])  # both callers cached
    marriage_id = world.marriage.id
    db.session.remove()
    checkouts = []
    listener = lambda *args: checkouts.append(args)  # noqa: E731
    event.listen(db.engine, "checkout", listener)
    try:
        assert show(api, world.citizen_token, [marriage_id]).status_code == 201
        assert scan(api, world.member_token, second["qr_content"]).status_code == 200
    finally:
        event.remove(db.engine, "checkout", listener)
    if db_driver.usable():
        assert checkouts == []
    else:
        assert db.engine.dialect.name == "sqlite" and checkouts
