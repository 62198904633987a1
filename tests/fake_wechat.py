"""A small stand-in for WeChat's servers on 127.0.0.1, talked to by the real wechatpy client.

It answers the endpoints the platform uses with WeChat's real shapes and error codes:
``/cgi-bin/token``, ``/sns/jscode2session`` and ``/cgi-bin/message/subscribe/send``.
Tests script it: which login codes are valid, and a queue of answers (an errcode, or an
HTTP status) for the next subscribe-message sends.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

INVALID_CODE = 40029
RATE_LIMITED = 45011
NO_SUBSCRIPTION = 43101
SYSTEM_BUSY = -1
TEMPLATE_RATE = 45009


@dataclass
class FakeWeChatState:
    appid: str = "wx-test-appid"
    secret: str = "wx-test-secret"
    codes: dict[str, str] = field(default_factory=dict)  # js_code -> openid
    rate_limited_codes: set[str] = field(default_factory=set)
    send_script: deque = field(default_factory=deque)  # ("errcode", n) | ("http", status)
    sent: list[dict] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    token_fetches: int = 0
    send_delay_s: float = 0.0  # how long a send takes, like a distant API (benchmarks)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    server: FakeWeChatServer

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def _reply(self, payload: dict, status: int = 200) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        state = self.server.state
        with state.lock:
            state.requests.append(("GET", url.path))
        if url.path == "/cgi-bin/token":
            if q.get("appid") != state.appid or q.get("secret") != state.secret:
                return self._reply({"errcode": 40013, "errmsg": "invalid appid"})
            with state.lock:
                state.token_fetches += 1
            return self._reply({"access_token": "fake-access-token", "expires_in": 7200})
        if url.path == "/sns/jscode2session":
            code = q.get("js_code", "")
            if code in state.rate_limited_codes:
                return self._reply({"errcode": RATE_LIMITED, "errmsg": "mini-program rate limit"})
            openid = state.codes.pop(code, None)
            if openid is None:
                return self._reply({"errcode": INVALID_CODE, "errmsg": "invalid code"})
            return self._reply({"openid": openid, "session_key": "fake-session-key"})
        return self._reply({"errcode": 404, "errmsg": "not found"}, 404)

    def do_POST(self) -> None:
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length) if length else b""
        state = self.server.state
        with state.lock:
            state.requests.append(("POST", url.path))
        if url.path == "/cgi-bin/message/subscribe/send":
            if state.send_delay_s:
                time.sleep(state.send_delay_s)
            with state.lock:
                scripted = state.send_script.popleft() if state.send_script else None
            if scripted and scripted[0] == "http":
                return self._reply({"errmsg": "server error"}, scripted[1])
            if scripted and scripted[0] == "errcode":
                return self._reply({"errcode": scripted[1], "errmsg": "scripted failure"})
            payload = json.loads(raw or b"{}")
            with state.lock:
                state.sent.append(payload)
            return self._reply({"errcode": 0, "errmsg": "ok", "msgid": len(state.sent)})
        return self._reply({"errcode": 404, "errmsg": "not found"}, 404)


class FakeWeChatServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = FakeWeChatState()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"

    def start(self) -> FakeWeChatServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def reset(self) -> None:
        appid, secret = self.state.appid, self.state.secret
        self.state = FakeWeChatState(appid=appid, secret=secret)

    # scripting helpers
    def add_login_code(self, code: str, openid: str) -> None:
        self.state.codes[code] = openid

    def script_sends(self, *answers: tuple[str, int]) -> None:
        self.state.send_script.extend(answers)
