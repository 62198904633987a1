"""The wechatpy client, pointed at the configured API base URL.

wechatpy hard-codes ``https://api.weixin.qq.com`` in three places (the client base URL,
``fetch_access_token`` and the ``wxa`` API); all three follow ``WECHAT_API_BASE_URL`` here,
which lets the tests run the real client against a local fake of WeChat's servers.
"""

from __future__ import annotations

from flask import current_app
from wechatpy import WeChatClient
from wechatpy.session.memorystorage import MemoryStorage
from wechatpy.session.redisstorage import RedisStorage


class ConfigurableWeChatClient(WeChatClient):
    def __init__(self, appid: str, secret: str, api_base_url: str, **kwargs) -> None:
        super().__init__(appid, secret, **kwargs)
        base = api_base_url if api_base_url.endswith("/") else api_base_url + "/"
        self.api_base_url = base
        self.API_BASE_URL = base + "cgi-bin/"
        self.wxa.API_BASE_URL = base

    def fetch_access_token(self):
        return self._fetch_access_token(
            url=self.api_base_url + "cgi-bin/token",
            params={
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self.secret,
            },
        )


def get_wechat_client() -> ConfigurableWeChatClient:
    """One client per app; the access token is shared through Redis when there is one."""
    app = current_app
    client = app.extensions.get("wechat_client")
    if client is None:
        store = app.extensions["token_store"]
        session = (
            RedisStorage(store.client, prefix="wechatpy")
            if getattr(store, "kind", "") == "redis"
            else MemoryStorage()
        )
        client = ConfigurableWeChatClient(
            app.config["WECHAT_APPID"],
            app.config["WECHAT_SECRET"],
            app.config["WECHAT_API_BASE_URL"],
            session=session,
            timeout=app.config["WECHAT_TIMEOUT_S"],
        )
        app.extensions["wechat_client"] = client
    return client
