"""A holder's certificates as cards, and one certificate with its seal status."""

from __future__ import annotations

from tests.factories import create_certificate, create_certificate_type, create_user


def test_a_citizen_sees_certificates_as_cards_and_one_with_its_seal_status(browser):
    cert_type = create_certificate_type(name="机动车驾驶证")
    citizen = create_user(display_name="张明")
    certificate = create_certificate(cert_type, holder=citizen.person)
    browser.login(citizen)
    browser.open("/certificates")
    assert "机动车驾驶证" in browser.text("#certificates")
    browser.check_page("certificates")
    browser.click("#certificates a")
    browser.wait_for("#seal-status")
    assert browser.path == f"/certificates/{certificate.id}"
    assert "电子印章验证通过" in browser.text("#seal-status")
    assert citizen.person.name in browser.text("#certificate-fields")
    browser.check_page("certificate")
    browser.click("#show-this-certificate")
    browser.wait_for("#qr svg")
    assert "机动车驾驶证" in browser.text("#show-code")


def test_someone_elses_certificate_is_not_found(client):
    import re

    from tests.factories import PASSWORD

    theirs = create_certificate()
    me = create_user()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    client.post("/login", data={"username": me.username, "password": PASSWORD, "csrf_token": token})
    response = client.get(f"/certificates/{theirs.id}")
    assert response.status_code == 404
    assert theirs.serial not in response.get_data(as_text=True)
