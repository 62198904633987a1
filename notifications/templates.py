"""What each category of notification looks like on each channel, in one place.

A category names a WeChat subscribe-message template (by a stable key; the real template id of
the mini-program comes from ``WECHAT_TEMPLATE_IDS``), how each template field is filled, and
when SMS is used. WeChat rejects values over its field limits (errcode 47003), so every value
is fitted to its field type here, truncating safely.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import current_app

from backend import clock

ONE_TIME = "one_time"
LONG_TERM = "long_term"

# WeChat's limits per field type (subscribe-message "参数值内容限制说明"), in characters.
FIELD_LIMITS = {
    "thing": 20,
    "number": 32,
    "letter": 32,
    "symbol": 5,
    "character_string": 32,
    "time": 40,
    "date": 40,
    "amount": 16,
    "phone_number": 17,
    "car_number": 8,
    "name": 10,
    "phrase": 5,
}
EMPTY_VALUE = "无"  # WeChat refuses empty values
ELLIPSIS = "…"
_FIELD_KEY = re.compile(r"^([a-z_]+?)\d+$")
_JOINERS = {"\u200d", "\ufe0e", "\ufe0f"}  # zero-width joiner, variation selectors


def field_type(key: str) -> str:
    """``thing3`` → ``thing``; WeChat names template fields by type and position."""
    match = _FIELD_KEY.match(key)
    if not match or match.group(1) not in FIELD_LIMITS:
        raise ValueError(f"unknown WeChat template field {key!r}")
    return match.group(1)


def _cut(text: str, limit: int) -> str:
    """The first ``limit`` characters, never splitting a character from its combining marks."""
    if len(text) <= limit:
        return text
    end = limit
    while end > 0 and (unicodedata.combining(text[end]) or text[end] in _JOINERS):
        end -= 1
    cut = text[:end]
    while cut and cut[-1] in _JOINERS:
        cut = cut[:-1]
    return cut


def truncate(text: str, limit: int, ellipsis: str = ELLIPSIS) -> str:
    """Fit ``text`` in ``limit`` characters, ending with an ellipsis when shortened."""
    text = " ".join(text.split())  # newlines and runs of spaces are not allowed in fields
    if len(text) <= limit:
        return text
    return _cut(text, limit - len(ellipsis)) + ellipsis


def format_time(value: datetime) -> str:
    local = value.astimezone(clock.SHANGHAI)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def format_date(value: date | datetime | str) -> str:
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = value.astimezone(clock.SHANGHAI).date()
    return f"{value.year}年{value.month}月{value.day}日"


def fit(key: str, value: Any) -> str:
    """The value as WeChat accepts it for field ``key``."""
    kind = field_type(key)
    limit = FIELD_LIMITS[kind]
    if kind == "time" and isinstance(value, datetime):
        return format_time(value)
    if kind == "date" and isinstance(value, (date, str)):
        return format_date(value)
    text = "" if value is None else str(value)
    if kind == "phrase":  # Chinese characters only, no ellipsis
        text = "".join(ch for ch in text if "\u4e00" <= ch <= "\u9fff")
        text = _cut(text, limit)
    elif kind in ("character_string", "number", "letter", "symbol", "phone_number"):
        allowed = {
            "character_string": r"[0-9A-Za-z_\-.:/#@+]",
            "number": r"[0-9.]",
            "letter": r"[A-Za-z]",
            "symbol": r"[^\w\s]",
            "phone_number": r"[0-9+\-]",
        }[kind]
        text = _cut("".join(re.findall(allowed, text)), limit)
    else:
        text = truncate(text, limit)
    return text or EMPTY_VALUE


@dataclass(frozen=True)
class Message:
    """What a channel sends: the notification's fields as the worker read them."""

    notification_id: int
    user_id: int
    category: str
    title: str
    body: str
    link: str | None
    created_at: datetime
    data: dict[str, Any]
    openid: str | None = None


Getter = Callable[[Message], Any]


@dataclass(frozen=True)
class WeChatTemplate:
    key: str  # stable name; WECHAT_TEMPLATE_IDS maps it to the mini-program's template id
    kind: str  # ONE_TIME | LONG_TERM
    fields: dict[str, Getter]


@dataclass(frozen=True)
class Template:
    category: str
    label: str  # shown to people, Chinese
    wechat: WeChatTemplate | None
    sms: str = "fallback"  # never | fallback (when WeChat fails for good) | always


def _title(m: Message) -> str:
    return m.title


def _body(m: Message) -> str:
    return m.body


def _created(m: Message) -> datetime:
    return m.created_at


def _data(name: str, default: Getter) -> Getter:
    return lambda m: m.data.get(name) or default(m)


GENERAL = WeChatTemplate(
    "general_notice",
    ONE_TIME,
    {"thing1": _title, "thing2": _body, "time3": _created},
)

VERIFICATION = WeChatTemplate(
    "verification_progress",
    ONE_TIME,
    {"thing1": _title, "phrase2": _data("status", _body), "time3": _created},
)

TEMPLATES: dict[str, Template] = {
    t.category: t
    for t in (
        Template("general", "通知", GENERAL),
        Template(
            "certificate_used",
            "用证提醒",
            WeChatTemplate(
                "certificate_used",
                LONG_TERM,
                {
                    "thing1": _data("certificate", _title),
                    "thing2": _data("verifier", _body),
                    "time3": _created,
                },
            ),
            sms="never",
        ),
        Template("verification_progress", "协查进度", VERIFICATION),
        Template("verification", "协查进度", VERIFICATION),  # the category verification uses
        Template(
            "application_decision",
            "办件结果",
            WeChatTemplate(
                "application_decision",
                ONE_TIME,
                {"thing1": _title, "phrase2": _data("result", _body), "time3": _created},
            ),
        ),
        Template(
            "certificate_expiry",
            "证照到期提醒",
            WeChatTemplate(
                "certificate_expiry",
                LONG_TERM,
                {
                    "thing1": _data("certificate", _title),
                    "date2": _data("expires_on", _created),
                    "thing3": _body,
                },
            ),
        ),
        Template(
            "campaign",
            "部门通知",
            WeChatTemplate(
                "department_notice",
                LONG_TERM,
                {"thing1": _title, "thing2": _data("department", _body), "time3": _created},
            ),
        ),
    )
}


def template_for(category: str) -> Template:
    """The category's template; categories without their own use the general one."""
    return TEMPLATES.get(category) or TEMPLATES["general"]


def wechat_templates() -> dict[str, WeChatTemplate]:
    """Every WeChat template by its key."""
    return {t.wechat.key: t.wechat for t in TEMPLATES.values() if t.wechat is not None}


def template_id(wechat: WeChatTemplate) -> str:
    """The mini-program's template id for a template key (configured per deployment)."""
    ids = current_app.config.get("WECHAT_TEMPLATE_IDS") or {}
    return ids.get(wechat.key, wechat.key)


def template_by_id(template_id_: str) -> WeChatTemplate | None:
    """The template a mini-program template id belongs to, or None when it is not ours."""
    for wechat in wechat_templates().values():
        if template_id(wechat) == template_id_:
            return wechat
    return None


def render_wechat(wechat: WeChatTemplate, message: Message) -> dict[str, dict[str, str]]:
    """The ``data`` of a subscribe message, every value fitted to its field."""
    return {key: {"value": fit(key, getter(message))} for key, getter in wechat.fields.items()}


def wechat_page(message: Message) -> str:
    """A mini-program page to open: the link when it is a page path, else the inbox."""
    link = message.link or ""
    if link and "://" not in link and link.lstrip("/").startswith("pages/"):
        return link.lstrip("/")
    return f"{current_app.config['WECHAT_INBOX_PAGE']}?id={message.notification_id}"


SMS_SIGNATURE = "【无证明城市】"
SMS_MAX_CHARS = 200


def render_sms(message: Message) -> str:
    text = f"{SMS_SIGNATURE}{message.title}:{message.body}"
    return truncate(text, SMS_MAX_CHARS)
