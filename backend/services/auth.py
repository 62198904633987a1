"""Logging in: password for staff and demo accounts, WeChat code2Session for the mini-program."""

from __future__ import annotations

import logging

import requests
from wechatpy.exceptions import WeChatClientException

from backend.errors import AppError, RateLimited, ServiceUnavailable, Unauthorized
from backend.models import User
from backend.services.accounts import find_or_create_wechat_user
from backend.wechat import get_wechat_client

log = logging.getLogger(__name__)

WECHAT_INVALID_CODE = 40029
WECHAT_CODE_USED = 40163
WECHAT_RATE_LIMITED = 45011


def login_with_wechat(code: str) -> User:
    """Exchange a ``wx.login`` code for an openid through wechatpy and find the account."""
    try:
        result = get_wechat_client().wxa.code_to_session(code)
    except WeChatClientException as exc:
        log.info("code2Session refused: %s", exc.errcode)
        if exc.errcode == WECHAT_RATE_LIMITED:
            raise RateLimited("微信登录过于频繁,请稍后再试", code="wechat_rate_limited") from exc
        if exc.errcode is None:
            raise ServiceUnavailable("微信服务暂时不可用", code="wechat_unavailable") from exc
        raise Unauthorized("微信登录失败,请重新进入小程序", code="wechat_login_failed") from exc
    except requests.RequestException as exc:
        raise ServiceUnavailable("微信服务暂时不可用", code="wechat_unavailable") from exc
    openid = result.get("openid") if isinstance(result, dict) else None
    if not openid:
        raise AppError("微信服务返回异常", code="wechat_unavailable", status_code=503)
    return find_or_create_wechat_user(openid)
