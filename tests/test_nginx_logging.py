"""nginx.conf's access log, run by a real nginx: live code tokens are logged as [redacted]."""

from __future__ import annotations

import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.redis_server import free_port

ROOT = Path(__file__).resolve().parent.parent


def _config(tmp_path: Path, http_port: int, https_port: int) -> Path:
    """nginx.conf on free loopback ports, a throwaway certificate and files in ``tmp_path``."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-keyout", str(tmp_path / "privkey.pem"),
         "-out", str(tmp_path / "fullchain.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    text = (ROOT / "nginx.conf").read_text()
    text = text.replace("/etc/ssl/certfree/", f"{tmp_path}/")
    text = text.replace("/var/log/nginx/certfree_access.log", str(tmp_path / "access.log"))
    text = re.sub(r"^\s*listen \[::\]:.*$", "", text, flags=re.M)
    text = text.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    text = text.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl;")
    path = tmp_path / "nginx.conf"
    path.write_text(text)
    return path


def _get(url: str) -> int:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    request = urllib.request.Request(url, headers={"Referer": "https://x.example/c/REFTOKEN1"})
    try:
        return urllib.request.build_opener(NoRedirect).open(request, timeout=5).status
    except urllib.error.HTTPError as error:
        return error.code


def test_nginx_logs_code_paths_without_their_tokens(tmp_path):
    http_port, https_port = free_port(), free_port()
    config = _config(tmp_path, http_port, https_port)
    nginx = subprocess.Popen(
        ["nginx", "-c", str(config), "-g",
         f"daemon off; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", http_port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        base = f"http://127.0.0.1:{http_port}"
        # The plain-HTTP server redirects these to HTTPS: a logged request like any other.
        assert _get(f"{base}/api/mp/v1/codes/SECRETTOKEN1/qr.png?size=2") == 301
        assert _get(f"{base}/c/SECRETTOKEN2") == 301
        assert _get(f"{base}/api/mp/v1/offline-codes/verify") == 301
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
    log = (tmp_path / "access.log").read_text()
    assert "SECRETTOKEN" not in log and "REFTOKEN" not in log, log
    assert "GET /api/mp/v1/codes/[redacted]/qr.png?size=2 HTTP/1.1" in log
    assert "GET /c/[redacted] HTTP/1.1" in log
    assert '"https://x.example/c/[redacted]"' in log
    assert "GET /api/mp/v1/offline-codes/verify HTTP/1.1" in log
