"""Every way a scan can fail has its own code and status, and leaves nothing half-written."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, func, select, text

from backend import clock, db_driver
from backend.extensions import db
from backend.models import Notification, UsageRecord
from tests.codes.conftest import scan, show, show_ok
from tests.factories import PASSWORD, create_certificate, error_of


def usage_count() -> int:
    db.session.rollback()  # see what other connections committed
    return db.session.scalar(select(func.count()).select_from(UsageRecord))


def test_malformed_content_is_rejected_as_invalid(api, world):
    for content in ("hello", "https://evil.example/c/" + "A" * 22, "http://127.0.0.1:8000/c/x"):
        response = scan(api, world.member_token, content)
        assert response.status_code == 400
        assert error_of(response)["code"] == "code_invalid"
        assert error_of(response)["field"] == "qr_content"


def test_a_bare_token_typed_by_hand_is_accepted(api, world):
    code = show_ok(api, world.citizen_token, [world.id_card.id])
    assert scan(api, world.member_token, f"  {code['token']} ").status_code == 200


def test_an_unknown_code_is_not_found(api, world):
    response = scan(api, world.member_token, "http://127.0.0.1:8000/c/" + "A" * 22)
    assert response.status_code == 404
    assert error_of(response)["code"] == "code_not_found"


def test_a_used_code_is_rejected(api, world):
    code = show_ok(api, world.citizen_token, [world.id_card.id])
    assert scan(api, world.member_token, code["qr_content"]).status_code == 200
    response = scan(api, world.member_token, code["qr_content"])
    assert response.status_code == 409
    assert error_of(response)["code"] == "code_used"
    assert usage_count() == 1


def test_an_expired_code_is_told_apart_from_an_unknown_one(api, world):
    with clock.frozen(datetime.now(UTC)):
        code = show_ok(api, world.citizen_token, [world.id_card.id], ttl_s=15)
        clock.advance(timedelta(seconds=16))
        for _ in range(2):  # the first scan finds it live but late, the second its tombstone
            response = scan(api, world.member_token, code["qr_content"])
            assert response.status_code == 410
            assert error_of(response)["code"] == "code_expired"
        status = api.get(f"/codes/{code['token']}", token=world.citizen_token).get_json()
        assert status["status"] == "expired"
    assert usage_count() == 0


def test_a_code_of_certificates_all_out_of_scope_is_refused_and_the_attempt_logged(api, world):
    code = show_ok(api, world.citizen_token, [world.marriage.id])
    response = scan(api, world.member_token, code["qr_content"])
    assert response.status_code == 403
    assert error_of(response)["code"] == "out_of_scope"
    [record] = db.session.scalars(select(UsageRecord)).all()
    assert (record.result, record.fields_disclosed) == ("out_of_scope", [])
    [notification] = db.session.scalars(select(Notification)).all()
    assert notification.user_id == world.citizen.id and "授权范围" in notification.body


def test_a_revoked_certificate_is_reported_without_its_fields(api, world):
    code = show_ok(api, world.citizen_token, [world.id_card.id])
    world.id_card.status = "revoked"
    db.session.commit()
    result = scan(api, world.member_token, code["qr_content"]).get_json()
    [certificate] = result["certificates"]
    assert (certificate["status"], certificate["result"]) == ("revoked", "revoked")
    assert "fields" not in certificate and result["valid"] is False
    assert db.session.scalars(select(UsageRecord.result)).all() == ["revoked"]


def test_a_certificate_that_expired_while_the_code_was_shown_is_reported_expired(api, world):
    last_day = datetime(2030, 6, 30, 23, 59, 30, tzinfo=clock.SHANGHAI)
    card = create_certificate("id_card", holder=world.citizen.person, expires_on=last_day.date())
    with clock.frozen(last_day):
        code = show_ok(api, world.citizen_token, [card.id])
        clock.advance(timedelta(seconds=40))
        [certificate] = scan(api, world.member_token, code["qr_content"]).get_json()["certificates"]
    assert (certificate["status"], certificate["result"]) == ("expired", "expired")
    assert "fields" not in certificate


def test_a_certificate_whose_seal_no_longer_verifies_is_reported_without_its_fields(api, world):
    code = show_ok(api, world.citizen_token, [world.id_card.id])
    seal = world.id_card.seals[0]
    seal.signature = bytes([seal.signature[0] ^ 1]) + bytes(seal.signature[1:])
    db.session.commit()
    [certificate] = scan(api, world.member_token, code["qr_content"]).get_json()["certificates"]
    assert certificate["seal"] == {"valid": False, "reason": "bad_signature"}
    assert certificate["result"] == "seal_invalid" and "fields" not in certificate


def test_of_twenty_concurrent_scans_of_one_code_exactly_one_succeeds(app, api, world):
    code = show_ok(api, world.citizen_token, [world.id_card.id])
    barrier = threading.Barrier(20)
    statuses: list[int] = []
    lock = threading.Lock()

    def scanner():
        client = app.test_client()
        barrier.wait()
        response = client.post(
            "/api/mp/v1/scans",
            json={"qr_content": code["qr_content"], "purpose": "入住登记"},
            headers={"Authorization": f"Bearer {world.member_token}"},
        )
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=scanner) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [409] * 19
    assert usage_count() == 1


# --- the token store going away --------------------------------------------------------------


def _web_login(client, user) -> dict:
    """Log in with a cookie session (no Redis needed afterwards); returns the CSRF header."""
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        "/login", data={"username": user.username, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    return {"X-CSRFToken": token}


def test_with_redis_stopped_a_scan_answers_503_and_writes_nothing(make_app, world, throwaway_redis):
    other = make_app(REDIS_URL=throwaway_redis.url)
    holder, member = other.test_client(), other.test_client()
    holder_csrf = _web_login(holder, world.citizen)
    member_csrf = _web_login(member, world.member)
    body = {"certificate_ids": [world.id_card.id]}
    shown = holder.post("/api/mp/v1/codes", json=body, headers=holder_csrf)
    assert shown.status_code == 201
    qr_content = shown.get_json()["qr_content"]

    throwaway_redis.kill()  # our own server, never the shared one
    response = member.post(
        "/api/mp/v1/scans",
        json={"qr_content": qr_content, "purpose": "入住登记"},
        headers=member_csrf,
    )
    assert response.status_code == 503
    assert error_of(response)["code"] == "token_store_unavailable"
    assert usage_count() == 0
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0
    again = holder.post("/api/mp/v1/codes", json=body, headers=holder_csrf)
    assert again.status_code == 503
    assert error_of(again)["code"] == "token_store_unavailable"
    for application in (other,):
        application.extensions["token_store"].client.close()


def test_a_database_connection_lost_mid_scan_answers_503_and_writes_nothing(app, api, world):
    """On PostgreSQL the scan's database work runs on the worker thread's own connection
    (``db_driver``): cut it and the scan answers 503, with no usage record and no
    notification; the next scan gets a fresh connection. (SQLite scans use the session,
    whose lost connections tests/test_db_connections.py covers.)"""
    if not db_driver.usable():
        assert db.engine.dialect.name == "sqlite"
        return
    card_id = world.id_card.id
    code = show_ok(api, world.citizen_token, [card_id])
    with db_driver.connection() as conn:
        pid = conn.info.backend_pid
    admin = create_engine(db.engine.url)
    with admin.begin() as admin_conn:
        admin_conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
    admin.dispose()
    response = scan(api, world.member_token, code["qr_content"])
    assert response.status_code == 503
    assert error_of(response)["code"] == "database_unavailable"
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(UsageRecord)) == 0
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0
    again = show_ok(api, world.citizen_token, [card_id])
    assert scan(api, world.member_token, again["qr_content"]).status_code == 200


def test_an_id_beyond_the_databases_integers_is_a_named_400_not_a_500(api, world):
    """PostgreSQL's ``integer`` ends at 2**31 - 1: a larger id names no row, and the schema
    refuses it with the field named instead of the database refusing the parameter."""
    response = show(api, world.citizen_token, [2**31])
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_value" and error["field"] == "certificate_ids.0"
    offline = api.post(
        "/offline-codes",
        token=world.citizen_token,
        json={"certificate_id": 2**40, "fields": ["姓名"]},
    )
    assert offline.status_code == 400 and offline.get_json()["error"]["field"] == "certificate_id"


def test_a_nul_in_the_purpose_is_refused_before_the_code_is_consumed(api, world):
    """PostgreSQL cannot store a NUL: refused up front, the one-time code stays usable."""
    code = show_ok(api, world.citizen_token, [world.id_card.id])
    response = api.post(
        "/scans",
        token=world.member_token,
        json={"qr_content": code["qr_content"], "purpose": "x\u0000"},
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_character"
    assert error_of(response)["field"] == "purpose"
    assert usage_count() == 0
    assert scan(api, world.member_token, code["qr_content"]).status_code == 200
    assert usage_count() == 1
