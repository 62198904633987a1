"""WeChat subscribe messages through the real wechatpy client.

Only users with an openid and a remaining subscription to the category's template are
reached; the subscription is reserved when the delivery is written, in the event's
transaction, so a thousand queued messages never count on one acceptance.
"""

from __future__ import annotations

from typing import Any

import requests
from sqlalchemy import Select, bindparam, case, exists, or_, select, update
from wechatpy.exceptions import WeChatClientException

from backend.db_driver import first_row
from backend.extensions import db
from backend.models import User
from backend.wechat import get_wechat_client
from notifications.channels.base import (
    NOT_PROBED,
    PROBE_USER_ID,
    Channel,
    DeliveryError,
    PermanentError,
    ReservationNeeded,
    RetryableError,
    probe_user_id,
)
from notifications.models import Notification, WeChatSubscription
from notifications.templates import (
    ONE_TIME,
    Message,
    Template,
    render_wechat,
    template_for,
    template_id,
    wechat_page,
)

NO_SUBSCRIPTION = 43101  # the user has no subscription left for this template
# System busy, API quota reached (45009), frequency limit, access token expired or invalid.
RETRYABLE_ERRCODES = {-1, 40001, 42001, 45009, 45011}


class SubscriptionExhausted(PermanentError):
    """WeChat says the user has no subscription left (43101)."""


# What one user's subscription to a template allows: LONG_TERM, ONE_TIME_LEFT or nothing
# (no row: no subscription or no openid).
LONG_TERM, ONE_TIME_LEFT, NOTHING_LEFT = 2, 1, 0
_SUBSCRIPTION = (
    select(
        case(
            (WeChatSubscription.long_term.is_(True), LONG_TERM),
            (WeChatSubscription.one_time_remaining > 0, ONE_TIME_LEFT),
            else_=NOTHING_LEFT,
        )
    )
    .join(User, User.id == WeChatSubscription.user_id)
    .where(
        WeChatSubscription.user_id == probe_user_id,
        WeChatSubscription.template_id == bindparam("b_template_id"),
        User.wechat_openid.is_not(None),
    )
)
_SUBSCRIPTION_PROBE = _SUBSCRIPTION.scalar_subquery()  # built once: a hot path's column
_RESERVE_ONE = (
    update(WeChatSubscription)
    .where(
        WeChatSubscription.user_id == probe_user_id,
        WeChatSubscription.template_id == bindparam("b_template_id"),
        WeChatSubscription.long_term.is_(False),
        WeChatSubscription.one_time_remaining > 0,
    )
    .values(one_time_remaining=WeChatSubscription.one_time_remaining - 1)
    .returning(WeChatSubscription.user_id)
    .execution_options(synchronize_session=False)
)


class WeChatChannel(Channel):
    name = "wechat"

    def recipients(self, users: Select, template: Template, *, fallback: bool = False):
        if template.wechat is None or fallback:
            return None
        tid = template_id(template.wechat)
        has_openid = exists().where(
            User.id == WeChatSubscription.user_id, User.wechat_openid.is_not(None)
        )
        long_term = exists().where(
            WeChatSubscription.user_id == Notification.user_id,
            WeChatSubscription.template_id == tid,
            WeChatSubscription.long_term.is_(True),
            has_openid,
        )
        # One-time acceptances are used up here, in the event's transaction.
        reserved = db.session.scalars(
            update(WeChatSubscription)
            .where(
                WeChatSubscription.template_id == tid,
                WeChatSubscription.long_term.is_(False),
                WeChatSubscription.one_time_remaining > 0,
                WeChatSubscription.user_id.in_(users),
                has_openid,
            )
            .values(one_time_remaining=WeChatSubscription.one_time_remaining - 1)
            .returning(WeChatSubscription.user_id)
            .execution_options(synchronize_session=False)
        ).all()
        return or_(long_term, Notification.user_id.in_(reserved)) if reserved else long_term

    def reaches(
        self, user_id, template: Template, conn=None, reserve=True, probed: Any = NOT_PROBED
    ) -> bool:
        if template.wechat is None:
            return False
        params = {PROBE_USER_ID: user_id, "b_template_id": template_id(template.wechat)}
        if probed is NOT_PROBED:
            found = first_row(_SUBSCRIPTION, params, conn)
            probed = None if found is None else found[0]
        if not probed:
            return False  # no openid, no subscription, or nothing left: the common case
        if probed == LONG_TERM:
            return True
        if not reserve:
            raise ReservationNeeded()
        # Reserve one acceptance; of two concurrent events only those that get one reach.
        return first_row(_RESERVE_ONE, params, conn) is not None

    def probe(self, template: Template):
        if template.wechat is None:
            return None
        return _SUBSCRIPTION_PROBE, {"b_template_id": template_id(template.wechat)}

    def send(self, message: Message) -> str | None:
        wechat = template_for(message.category).wechat
        openid = message.openid
        if wechat is None or not openid:
            raise PermanentError("no WeChat template or openid")
        try:
            result = get_wechat_client().wxa.send_subscribe_message(
                openid, template_id(wechat), render_wechat(wechat, message), wechat_page(message)
            )
        except requests.RequestException as exc:
            raise RetryableError(f"network: {type(exc).__name__}") from exc
        except WeChatClientException as exc:
            raise classify(exc) from exc
        msgid = result.get("msgid") if isinstance(result, dict) else None
        return str(msgid) if msgid is not None else None

    def gave_up(self, message: Message, template: Template, error: DeliveryError) -> None:
        if template.wechat is None:
            return
        row = (
            WeChatSubscription.user_id == message.user_id,
            WeChatSubscription.template_id == template_id(template.wechat),
        )
        if isinstance(error, SubscriptionExhausted):
            # WeChat knows better than our count: nothing is left, long-term or not.
            values: dict = {"one_time_remaining": 0, "long_term": False, "last_status": "reject"}
        elif template.wechat.kind == ONE_TIME:
            # Never delivered, so the acceptance was not used: give it back.
            values = {"one_time_remaining": WeChatSubscription.one_time_remaining + 1}
        else:
            return
        db.session.execute(
            update(WeChatSubscription)
            .where(*row)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def classify(exc: WeChatClientException) -> DeliveryError:
    """Tell retryable WeChat failures from permanent ones."""
    if exc.errcode is None:  # wechatpy raises this for an HTTP error status
        status = getattr(exc.response, "status_code", None)
        if status is None or status >= 500 or status == 429:
            return RetryableError(f"http {status}")
        return PermanentError(f"http {status}")
    if exc.errcode == NO_SUBSCRIPTION:
        return SubscriptionExhausted(f"errcode {exc.errcode}: no subscription left")
    if exc.errcode in RETRYABLE_ERRCODES:
        return RetryableError(f"errcode {exc.errcode}: {exc.errmsg}")
    return PermanentError(f"errcode {exc.errcode}: {exc.errmsg}")
