"""WeChat's push endpoint (signature, handshake, subscribe events) and POST /subscriptions."""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from backend import clock
from backend.extensions import db
from backend.models import User
from notifications.models import WeChatSubscription
from notifications.subscriptions import record_client_acceptance
from tests.factories import create_user, error_of
from tests.notifications.factories import create_wechat_user

TOKEN = "test-push-token"  # TestingConfig.WECHAT_PUSH_TOKEN


def signed_query(token: str = TOKEN, age_s: int = 0, nonce: str | None = None, **extra: str) -> str:
    """The query string WeChat sends: sha1 over the sorted token, timestamp and nonce."""
    timestamp = str(int(clock.now().timestamp()) - age_s)
    nonce = nonce or secrets.token_hex(8)  # WeChat's differs on every call
    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    return urlencode({"signature": signature, "timestamp": timestamp, "nonce": nonce, **extra})


def popup_event(openid: str, *items: tuple[str, str], event="subscribe_msg_popup_event") -> str:
    container = {
        "subscribe_msg_popup_event": "SubscribeMsgPopupEvent",
        "subscribe_msg_change_event": "SubscribeMsgChangeEvent",
    }[event]
    lists = "".join(
        f"<List><TemplateId><![CDATA[{tid}]]></TemplateId>"
        f"<SubscribeStatusString><![CDATA[{status}]]></SubscribeStatusString>"
        "<PopupScene>0</PopupScene></List>"
        for tid, status in items
    )
    return (
        "<xml><ToUserName><![CDATA[gh_123456789abc]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        "<CreateTime>1620973045</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event><{container}>{lists}</{container}></xml>"
    )


def push(client, body: str, query: str | None = None, content_type: str = "text/xml"):
    return client.post(
        f"/wechat/push?{query or signed_query()}", data=body.encode(), content_type=content_type
    )


def subscription(user, template_id: str) -> WeChatSubscription | None:
    db.session.expire_all()
    return db.session.scalar(
        select(WeChatSubscription).where(
            WeChatSubscription.user_id == user.id, WeChatSubscription.template_id == template_id
        )
    )


def test_the_handshake_echoes_when_the_signature_is_right(client):
    response = client.get(f"/wechat/push?{signed_query(echostr='abc123')}")
    assert response.status_code == 200
    assert response.data == b"abc123"
    assert response.mimetype == "text/plain"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        (lambda: signed_query(token="forged-token", echostr="abc"), "invalid_signature"),
        (lambda: "echostr=abc", "invalid_signature"),
        (
            lambda: signed_query(echostr="abc", nonce="1234567").replace(
                "nonce=1234567", "nonce=7654321"
            ),
            "invalid_signature",
        ),
        (lambda: signed_query(age_s=3600, echostr="abc"), "stale_signature"),
    ],
)
def test_a_forged_missing_or_old_signature_is_refused(client, query, code):
    for response in (client.get(f"/wechat/push?{query()}"), push(client, "<xml/>", query())):
        assert response.status_code == 403
        assert error_of(response)["code"] == code
        assert b"abc" not in response.data


def test_a_popup_event_records_acceptances_and_refusals(client):
    user = create_wechat_user(template="certificate_used", long_term=True, one_time=0)
    body = popup_event(
        user.wechat_openid,
        ("verification_progress", "accept"),
        ("certificate_used", "reject"),
        ("someone-elses-template", "accept"),
    )
    response = push(client, body)  # no CSRF token: WeChat has none, the endpoint is exempt
    assert response.status_code == 200 and response.data == b"success"
    assert subscription(user, "verification_progress").one_time_remaining == 1
    assert subscription(user, "certificate_used").long_term is False
    assert subscription(user, "someone-elses-template") is None


def test_a_signed_query_is_single_use_whatever_body_comes_with_it(client):
    """The signature does not cover the body: a replayed query must not carry a new event."""
    user = create_wechat_user(template="verification_progress", one_time=3)
    query = signed_query()
    accept = popup_event(user.wechat_openid, ("application_decision", "accept"))
    assert push(client, accept, query).data == b"success"
    assert subscription(user, "application_decision").one_time_remaining == 1
    ban = popup_event(
        user.wechat_openid, ("verification_progress", "ban"), event="subscribe_msg_change_event"
    )
    replayed = push(client, ban, query)
    assert (replayed.status_code, replayed.data) == (200, b"success")  # WeChat stops retrying
    assert subscription(user, "verification_progress").one_time_remaining == 3
    assert push(client, ban).data == b"success"  # a freshly signed call is handled
    assert subscription(user, "verification_progress").one_time_remaining == 0


def test_a_push_that_failed_can_be_retried_with_the_same_query(client):
    user = create_wechat_user()
    query = signed_query()
    assert push(client, "<xml><unclosed>", query).status_code == 400
    accept = popup_event(user.wechat_openid, ("application_decision", "accept"))
    assert push(client, accept, query).data == b"success"
    assert subscription(user, "application_decision").one_time_remaining == 1


def test_the_json_push_format_is_understood(client):
    user = create_wechat_user()
    body = json.dumps(
        {
            "FromUserName": user.wechat_openid,
            "MsgType": "event",
            "Event": "subscribe_msg_popup_event",
            "List": [{"TemplateId": "application_decision", "SubscribeStatusString": "accept"}],
        }
    )
    assert push(client, body, content_type="application/json").data == b"success"
    assert subscription(user, "application_decision").one_time_remaining == 1


def test_turning_a_template_off_in_the_settings_stops_all_messages(client):
    user = create_wechat_user(template="verification_progress", one_time=3)
    body = popup_event(
        user.wechat_openid,
        ("verification_progress", "reject"),
        event="subscribe_msg_change_event",
    )
    push(client, body)
    row = subscription(user, "verification_progress")
    assert (row.one_time_remaining, row.last_status) == (0, "reject")


def test_one_popup_reported_by_the_mini_program_and_by_wechat_counts_once(api, client):
    user = create_wechat_user()
    token = api.login(user)
    api.post("/subscriptions", json={"template_ids": ["verification_progress"]}, token=token)
    push(client, popup_event(user.wechat_openid, ("verification_progress", "accept")))
    assert subscription(user, "verification_progress").one_time_remaining == 1
    # A second popup, reported by both again, adds one more.
    push(client, popup_event(user.wechat_openid, ("verification_progress", "accept")))
    api.post("/subscriptions", json={"template_ids": ["verification_progress"]}, token=token)
    assert subscription(user, "verification_progress").one_time_remaining == 2


def test_events_for_unknown_users_or_other_events_change_nothing(client):
    assert push(client, popup_event("openid-nobody", ("verification_progress", "accept"))).data == (
        b"success"
    )
    other = "<xml><FromUserName>x</FromUserName><MsgType>text</MsgType><Content>hi</Content></xml>"
    assert push(client, other).status_code == 200
    assert db.session.scalars(select(WeChatSubscription)).all() == []


@pytest.mark.parametrize(
    "body",
    [
        "<xml><unclosed></xml>",
        "",
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        "<xml><Event>&b;</Event></xml>",
    ],
)
def test_malformed_or_entity_laden_xml_is_refused(client, body):
    response = push(client, body)
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_push_message"


def test_an_oversized_push_is_refused(client):
    response = push(client, "<xml>" + "x" * 70_000 + "</xml>")
    assert response.status_code == 413


def test_the_push_endpoint_is_in_the_openapi_document(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert set(paths["/wechat/push"]) == {"get", "post"}


def test_the_mini_program_records_accepted_templates(api):
    user = create_wechat_user()
    token = api.login(user)
    response = api.post(
        "/subscriptions",
        json={"template_ids": ["verification_progress", "certificate_used"]},
        token=token,
    )
    assert response.status_code == 200, response.get_json()
    rows = {s["template_id"]: s for s in response.get_json()["subscriptions"]}
    assert rows["verification_progress"]["one_time_remaining"] == 1
    assert rows["certificate_used"]["long_term"] is True
    listed = api.get("/subscriptions", token=token).get_json()
    assert len(listed["subscriptions"]) == 2
    assert {"key": "general_notice", "template_id": "general_notice", "kind": "one_time"} in (
        listed["templates"]
    )


def test_unknown_templates_and_accounts_without_wechat_are_refused(api):
    token = api.login(create_wechat_user())
    response = api.post(
        "/subscriptions", json={"template_ids": ["verification_progress", "nope"]}, token=token
    )
    assert response.status_code == 422
    assert (error_of(response)["code"], error_of(response)["field"]) == (
        "unknown_template",
        "template_ids.1",
    )
    assert db.session.scalars(select(WeChatSubscription)).all() == []

    password_only = api.login(create_user())
    response = api.post(
        "/subscriptions", json={"template_ids": ["verification_progress"]}, token=password_only
    )
    assert response.status_code == 409 and error_of(response)["code"] == "wechat_not_linked"
    bad = api.post("/subscriptions", json={"template_ids": []}, token=token)
    assert bad.status_code == 400 and error_of(bad)["field"] == "template_ids"


def test_two_acceptances_recorded_at_the_same_moment_both_count(app):
    user_id = create_wechat_user().id
    barrier = threading.Barrier(2)
    errors: list[Exception] = []

    def accept() -> None:
        with app.app_context():
            try:
                barrier.wait()
                record_client_acceptance(db.session.get(User, user_id), ["verification_progress"])
            except Exception as exc:  # reported below, not lost in the thread
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=accept) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    row = db.session.scalar(select(WeChatSubscription))
    assert row.one_time_remaining == 2
