"""Show-code and scan pages without a browser: who may open them, refusals, bytes on the wire."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from backend.extensions import db
from backend.models import UsageRecord
from tests.factories import (
    create_certificate,
    create_user,
    create_verifier_member,
    web_login,
)


def test_a_clerk_cannot_open_the_holders_pages(client):
    web_login(client, create_verifier_member())
    assert client.get("/show-code").status_code == 403
    assert client.get("/usage-records").status_code == 403


def test_a_citizen_cannot_open_the_clerks_pages(client):
    web_login(client, create_user())
    assert client.get("/scan").status_code == 403
    assert client.get("/scans").status_code == 403


def test_a_malformed_code_typed_on_the_scan_page_is_refused_and_nothing_is_recorded(client):
    token = web_login(client, create_verifier_member())
    response = client.post(
        "/scan", data={"csrf_token": token, "purpose": "入住登记", "qr_content": "not a code"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "无法核验" in html and "二维码内容无效" in html
    assert response.headers["Cache-Control"] == "no-store"
    assert db.session.scalar(select(func.count(UsageRecord.id))) == 0


def test_the_scan_form_needs_its_csrf_token(client):
    web_login(client, create_verifier_member())
    response = client.post("/scan", data={"purpose": "入住登记", "qr_content": "x" * 22})
    assert response.status_code == 400
    assert "页面已过期" in response.get_data(as_text=True)


def test_the_show_code_page_refuses_a_certificate_that_is_not_mine(client):
    someone_elses = create_certificate()
    citizen = create_user()
    mine = create_certificate(holder=citizen.person)
    web_login(client, citizen)
    refused = client.get(f"/show-code?certificate={someone_elses.id}")
    assert refused.status_code == 422
    assert "所选证照不可出示" in refused.get_data(as_text=True)
    page = client.get(f"/show-code?certificate={mine.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert f'data-certificate-ids="[{mine.id}]"' in html
    assert re.search(r'data-csrf="[^"]+"', html)
    assert re.search(r'src="/static/js/show-code\.js\?v=[0-9a-f]{12}"', html)


def test_a_refresh_moves_under_2_kb_on_the_wire_headers_included(client):
    citizen = create_user()
    mine = create_certificate(holder=citizen.person)
    token = web_login(client, citizen)
    response = client.post(
        "/api/mp/v1/codes",
        json={"certificate_ids": [mine.id]},
        headers={"X-CSRFToken": token, "Accept-Encoding": "gzip"},
    )
    assert response.status_code == 201 or response.status_code == 200, response.get_json()
    head = f"HTTP/1.1 {response.status}\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in response.headers.items()
    )
    assert len(head.encode()) + 2 + len(response.data) <= 2_000


def test_reporting_a_usage_record_without_a_reason_says_so(client):
    token = web_login(client, create_user())
    response = client.post("/usage-records/1/report", data={"csrf_token": token, "reason": " "})
    assert response.status_code == 302
    assert "请填写举报原因" in client.get(response.location).get_data(as_text=True)
