"""List pages read ``page`` strictly and build pager links from the route, never from
arbitrary query keys: odd query strings get a 400 page or a working pager, never a 500."""

from __future__ import annotations

import re
from html import unescape

import pytest

from backend.services.seed import run_seed
from tests.factories import (
    API,
    create_certificate,
    create_certificate_type,
    create_company,
    create_company_representative,
    create_user,
    error_of,
    web_login,
)
from tests.service_items.factories import create_item
from tests.themes.factories import bundle_id, restaurant_licence


def _pager_links(html: str) -> dict[str, str]:
    pager = re.search(r'<nav class="pager".*?</nav>', html, re.S)
    assert pager, "no pager on the page"
    links = re.findall(r'href="([^"]+)">(上一页|下一页)</a>', pager.group(0))
    return {label: unescape(href) for href, label in links}


@pytest.mark.parametrize(
    "page", ["%C2%B2", "1%E2%81%B0", "%D9%A1", "99999999999999999999", "9" * 5000, "0", "-1", "x"]
)
def test_a_malformed_or_out_of_range_page_is_a_400_page(client, page):
    response = client.get(f"/exemption-list?page={page}")
    assert response.status_code == 400
    assert "page" in response.get_data(as_text=True)


def test_a_citizens_list_page_refuses_an_odd_page_with_a_400_page(client):
    web_login(client, create_user())
    for page in ("%C2%B2", "99999999999999999999", "9" * 5000):
        response = client.get(f"/certificates?page={page}")
        assert response.status_code == 400, page
        assert response.mimetype == "text/html"
    assert client.get("/certificates?page=1").status_code == 200


def test_pager_links_keep_the_other_arguments_and_stay_relative(client, seeded):
    for n in range(25):
        create_item(state="published", handling_item=f"食品经营许可(新办){n}")
    response = client.get(
        "/exemption-list?q=食品&page=2&_method=POST&_external=1&_scheme=https&x=a%26b"
    )
    assert response.status_code == 200
    links = _pager_links(response.get_data(as_text=True))
    previous = links["上一页"]
    assert previous.startswith("/exemption-list?"), previous
    assert "page=1" in previous and "_method=POST" in previous and "x=a%26b" in previous
    assert "_external=1" in previous and "q=%E9%A3%9F%E5%93%81" in previous
    assert client.get(previous).status_code == 200
    first = _pager_links(client.get("/exemption-list?q=食品&_external=1").get_data(as_text=True))
    assert first["下一页"].startswith("/exemption-list?") and "page=2" in first["下一页"]


def test_a_holders_pager_keeps_its_route_and_arguments(client):
    citizen = create_user()
    cert_type = create_certificate_type()
    for _ in range(21):
        create_certificate(cert_type, holder=citizen.person)
    web_login(client, citizen)
    response = client.get("/certificates?page=2&_method=POST&shown=1")
    assert response.status_code == 200
    previous = _pager_links(response.get_data(as_text=True))["上一页"]
    assert previous.startswith("/certificates?") and "page=1" in previous
    assert "_method=POST" in previous and "shown=1" in previous


def test_the_api_refuses_pages_not_written_in_ascii_digits_or_out_of_range(client):
    for page in ("%C2%B2", "%D9%A1", "99999999999999999999", "9" * 5000, "0", "1.0", " 1"):
        response = client.get(f"{API}/exemption-list?page={page}")
        assert response.status_code == 400, page
        assert error_of(response)["field"] == "page"
    response = client.get(f"{API}/exemption-list?per_page=101")
    assert (response.status_code, error_of(response)["field"]) == (400, "per_page")
    assert client.get(f"{API}/exemption-list?page=0001&per_page=100").status_code == 200


def test_an_odd_consent_id_on_the_theme_form_is_a_400_page(client):
    run_seed(
        [
            "departments",
            "certificate types",
            "service items",
            "verification routes",
            "theme bundles",
        ],
        echo=lambda _: None,
    )
    company = create_company()
    restaurant_licence(company)
    web_login(client, create_company_representative(company))
    theme = bundle_id("open_restaurant")
    for consent in ("%C2%B2", "99999999999", "9" * 5000):
        response = client.get(f"/themes/{theme}/apply?consent={consent}")
        assert response.status_code == 400, consent
        assert response.mimetype == "text/html"
