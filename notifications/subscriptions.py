"""What users allowed in WeChat's subscribe-message popups, as the mini-program and WeChat
report it.

The same popup may be reported twice: by the mini-program (``POST /subscriptions``) and by
WeChat's push (``subscribe_msg_popup_event``). A one-time acceptance reported by one source
and then by the other within ``MATCH_WINDOW`` counts once.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from backend import clock
from backend.errors import Conflict, UnprocessableEntity
from backend.extensions import db
from backend.models import User
from backend.services.tx import transactional
from notifications.models import WeChatSubscription
from notifications.templates import LONG_TERM, template_by_id, template_id, wechat_templates

CLIENT = "client"
PUSH = "push"
MATCH_WINDOW = timedelta(minutes=2)
ACCEPT = "accept"
REFUSALS = ("reject", "ban")


def _row(user_id: int, template_id: str) -> WeChatSubscription:
    """The user's row for a template, created if missing, locked for this transaction."""
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    db.session.execute(
        insert(WeChatSubscription)
        .values(user_id=user_id, template_id=template_id, updated_at=clock.now())
        .on_conflict_do_nothing(index_elements=["user_id", "template_id"])
    )
    return db.session.scalars(
        select(WeChatSubscription)
        .where(WeChatSubscription.user_id == user_id, WeChatSubscription.template_id == template_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _record(
    user_id: int, template_id: str, kind: str, status: str, source: str, settings: bool = False
) -> WeChatSubscription:
    """Apply one report. ``settings``: the user changed the template in WeChat's settings."""
    row = _row(user_id, template_id)
    now = clock.now()
    if status == ACCEPT:
        if kind == LONG_TERM:
            row.long_term = True
        elif settings:
            pass  # switching a one-time template back on grants no message by itself
        elif (
            row.unmatched_source not in (None, source)
            and row.unmatched_at is not None
            and now - row.unmatched_at <= MATCH_WINDOW
        ):
            row.unmatched_source = row.unmatched_at = None  # the other report of that popup
        else:
            row.one_time_remaining += 1
            row.unmatched_source, row.unmatched_at = source, now
    elif settings or status == "ban":
        # Turned off, or "always refuse": nothing may be sent any more.
        row.long_term = False
        row.one_time_remaining = 0
    elif kind == LONG_TERM:
        row.long_term = False  # a plain popup "reject" leaves earlier one-time acceptances
    row.last_status = status
    row.updated_at = now
    return row


@transactional
def record_client_acceptance(user: User, template_ids: list[str]) -> list[WeChatSubscription]:
    """The mini-program reports the templates the user accepted in a popup."""
    if not user.wechat_openid:
        raise Conflict("请在微信小程序中订阅消息", code="wechat_not_linked")
    rows = []
    for index, tid in enumerate(dict.fromkeys(template_ids)):
        wechat = template_by_id(tid)
        if wechat is None:
            raise UnprocessableEntity(
                "未知的订阅消息模板", code="unknown_template", field=f"template_ids.{index}"
            )
        rows.append(_record(user.id, tid, wechat.kind, ACCEPT, CLIENT))
    return rows


@transactional
def record_push_event(openid: str, event: str, items: list[tuple[str, str]]) -> int:
    """WeChat reports popup choices or settings changes; returns how many were recorded."""
    user = db.session.scalar(select(User).where(User.wechat_openid == openid))
    if user is None:
        return 0
    recorded = 0
    for tid, status in items:
        wechat = template_by_id(tid)
        if wechat is None or status not in (ACCEPT, *REFUSALS):
            continue
        settings = event == "subscribe_msg_change_event"
        _record(user.id, tid, wechat.kind, status, PUSH, settings=settings)
        recorded += 1
    return recorded


def subscriptions_of(user: User) -> list[WeChatSubscription]:
    return list(
        db.session.scalars(
            select(WeChatSubscription)
            .where(WeChatSubscription.user_id == user.id)
            .order_by(WeChatSubscription.template_id)
        )
    )


def offered_templates() -> list[dict[str, str]]:
    """The templates the mini-program may ask users to accept."""
    return [
        {"key": key, "template_id": template_id(w), "kind": w.kind}
        for key, w in sorted(wechat_templates().items())
    ]
