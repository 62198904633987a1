"""``GET, POST /wechat/push``: WeChat's message push endpoint (no /api prefix).

WeChat signs every call with the token configured in the mini-program's console
(``WECHAT_PUSH_TOKEN``): sha1 over the sorted token, timestamp and nonce, checked with
``wechatpy.utils.check_signature``. GET is the handshake (answer ``echostr``); POST carries
events, in XML or JSON as configured; subscribe-message events update subscriptions.
Plain-text mode only: the encrypted ("safe") mode is not configured.

The signature covers the token, timestamp and nonce but not the body, so a signed query
string is single-use: it is remembered in the token store for the skew window, and a second
POST with it is acknowledged ("success", as WeChat's own retries of a handled event expect)
and ignored, whatever body it carries.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import xmltodict
from flask import Blueprint, current_app, request
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

from backend import clock
from backend.errors import AppError, Forbidden, ValidationFailed
from backend.token_store import PUSH_SEEN_PREFIX, get_token_store
from miniprogram_api.registry import ANYONE, EndpointSpec, document
from notifications.subscriptions import record_push_event

log = logging.getLogger(__name__)

bp = Blueprint("wechat_push", __name__)

MAX_PUSH_BYTES = 64 * 1024
MAX_CLOCK_SKEW_S = 300  # older signed calls are refused; newer ones are single-use
SUBSCRIBE_EVENTS = {
    "subscribe_msg_popup_event": "SubscribeMsgPopupEvent",
    "subscribe_msg_change_event": "SubscribeMsgChangeEvent",
}
SIGNATURE_QUERY = {
    "type": "object",
    "properties": {
        "signature": {"type": "string"},
        "timestamp": {"type": "string"},
        "nonce": {"type": "string"},
        "echostr": {"type": "string", "description": "GET handshake only"},
    },
    "required": ["signature", "timestamp", "nonce"],
}
for method, summary in (
    ("get", "WeChat message push handshake: answers echostr when the signature is right"),
    ("post", "WeChat message push events (subscribe-message popup and settings changes)"),
):
    document(
        EndpointSpec(
            path="/wechat/push",
            method=method,
            summary=summary,
            tags=["notifications"],
            auth=ANYONE,
            body=None,
            query=SIGNATURE_QUERY,
            response={"type": "string"},
            status=200,
            errors=[400, 403, 413],
            content_type="text/plain",
            request_content_type="application/xml" if method == "post" else None,
        )
    )


def verify_signature(args) -> None:
    """Refuse (403) a call not signed with our push token or signed too long ago."""
    try:
        timestamp = int(args.get("timestamp", ""))
        check_signature(
            current_app.config["WECHAT_PUSH_TOKEN"],
            args.get("signature", ""),
            str(timestamp),
            args.get("nonce", ""),
        )
    except (ValueError, InvalidSignatureException) as exc:
        raise Forbidden("签名校验失败", code="invalid_signature") from exc
    if abs(clock.now().timestamp() - timestamp) > MAX_CLOCK_SKEW_S:
        raise Forbidden("签名已过期", code="stale_signature")


def parse_event(raw: bytes, content_type: str) -> dict[str, Any]:
    """The pushed message as a dict, from XML (default) or JSON."""
    try:
        if "json" in content_type:
            message = json.loads(raw)
        else:
            message = xmltodict.parse(raw, disable_entities=True).get("xml")
    except Exception as exc:  # expat and json raise several types for malformed input
        raise ValidationFailed("推送消息格式错误", code="invalid_push_message") from exc
    if not isinstance(message, dict):
        raise ValidationFailed("推送消息格式错误", code="invalid_push_message")
    return message


def subscribe_items(message: dict[str, Any]) -> list[tuple[str, str]]:
    """``(template_id, status)`` pairs of a subscribe-message event (XML or JSON shape)."""
    container = message.get(SUBSCRIBE_EVENTS.get(message.get("Event", ""), ""), message)
    items = container.get("List") if isinstance(container, dict) else None
    if isinstance(items, dict):  # XML with a single <List>
        items = [items]
    return [
        (str(item.get("TemplateId", "")), str(item.get("SubscribeStatusString", "")))
        for item in items or []
        if isinstance(item, dict)
    ]


def handle_push(raw: bytes, content_type: str) -> int:
    """Record a pushed event; returns how many subscriptions changed."""
    message = parse_event(raw, content_type)
    event = str(message.get("Event", ""))
    if event not in SUBSCRIBE_EVENTS:
        log.info("push event %r ignored", event)
        return 0
    return record_push_event(str(message.get("FromUserName", "")), event, subscribe_items(message))


def _seen_key(args) -> str:
    return PUSH_SEEN_PREFIX + args.get("signature", "")


def first_use(args) -> bool:
    """Remember this signed query for the skew window; False if it was already used."""
    return get_token_store().add(_seen_key(args), "1", 2 * MAX_CLOCK_SKEW_S + 60)


def _text(body: str, status: int = 200):
    return body, status, {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/wechat/push")
def handshake():
    verify_signature(request.args)
    return _text(request.args.get("echostr", ""))


@bp.post("/wechat/push")
def receive():
    verify_signature(request.args)
    too_large = AppError("推送消息过大", code="payload_too_large", status_code=413)
    if (request.content_length or 0) > MAX_PUSH_BYTES:
        raise too_large
    raw = request.get_data()
    if len(raw) > MAX_PUSH_BYTES:
        raise too_large
    if not first_use(request.args):
        log.warning("a signed push query was used again: ignored")
        return _text("success")
    try:
        handle_push(raw, request.content_type or "")
    except Exception:  # not handled: WeChat's retry with the same query must get through
        get_token_store().delete(_seen_key(request.args))
        raise
    return _text("success")  # WeChat retries anything else
