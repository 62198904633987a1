"""Assets are served by the app itself, cacheable, compressed; forms and cookies are safe."""

from __future__ import annotations

import gzip
import re

from webapp.assets import STATIC_DIR, asset_version


def _asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


def test_every_asset_a_page_links_is_on_this_site_with_its_content_hash(client):
    html = client.get("/login").get_data(as_text=True)
    assert "http://" not in html and "https://" not in html
    assert not re.search(r'(?:href|src|action)="//', html)
    urls = _asset_urls(html)
    assert urls, html
    for url in urls:
        path, _, version = url.partition("?v=")
        assert version == asset_version(path.removeprefix("/static/"))


def test_a_hashed_asset_is_cached_for_a_year_and_immutable(client):
    url = _asset_urls(client.get("/login").get_data(as_text=True))[0]
    with client.get(url) as response:
        assert response.status_code == 200
        assert response.cache_control.public and response.cache_control.immutable
        assert response.cache_control.max_age == 365 * 24 * 3600
        assert not response.cache_control.no_cache


def test_an_asset_with_an_old_hash_is_cached_only_briefly(client):
    with client.get("/static/app.css?v=000000000000") as response:
        assert response.status_code == 200
        assert response.cache_control.max_age == 300
        assert not response.cache_control.immutable


def test_assets_and_pages_are_gzipped_when_the_browser_accepts_it(client):
    with client.get("/static/app.css", headers={"Accept-Encoding": "gzip, br"}) as css:
        assert css.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(css.data) == (STATIC_DIR / "app.css").read_bytes()
    page = client.get("/login", headers={"Accept-Encoding": "gzip"})
    assert page.headers["Content-Encoding"] == "gzip"
    assert "登录" in gzip.decompress(page.data).decode()
    with client.get("/static/app.css") as plain:
        assert "Content-Encoding" not in plain.headers


def test_no_page_template_contains_an_inline_script_or_style(app):
    templates = list((STATIC_DIR.parent / "templates").rglob("*.html"))
    assert templates
    for template in templates:
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template.name
        assert " style=" not in text and "<style" not in text, template.name
        assert not re.search(r"\son[a-z]+=", text), template.name


def test_every_post_form_in_the_templates_carries_a_csrf_token(app):
    for template in (STATIC_DIR.parent / "templates").rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        for form in re.findall(r"<form[^>]*>.*?</form>", text, flags=re.S):
            if 'method="post"' in form:
                assert "csrf_token()" in form, (template.name, form[:120])


def test_the_text_size_preference_is_an_httponly_cookie_and_refuses_unknown_sizes(client):
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = client.post(
        "/preferences/text-size", data={"csrf_token": token, "size": "large", "next": "/login"}
    )
    assert response.status_code == 302 and response.location.endswith("/login")
    cookie = response.headers["Set-Cookie"]
    assert "text_size=large" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert 'class="large-text"' in client.get("/login").get_data(as_text=True)
    bad = client.post("/preferences/text-size", data={"csrf_token": token, "size": "huge"})
    assert bad.status_code == 400
    offsite = client.post(
        "/preferences/text-size",
        data={"csrf_token": token, "size": "normal", "next": "//evil.example/"},
    )
    assert offsite.location.endswith("/") and "evil" not in offsite.location


def test_the_session_cookie_is_secure_when_served_over_https(make_app):
    from tests.factories import PASSWORD, create_user

    secure_app = make_app(SESSION_COOKIE_SECURE=True)
    client = secure_app.test_client()
    with secure_app.app_context():
        username = create_user().username
    html = client.get("/login", base_url="https://localhost").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = client.post(
        "/login",
        base_url="https://localhost",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
    )
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
