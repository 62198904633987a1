"""Consent first: the holder sees what would be used, agrees, and only then is the form
pre-filled; without consent nothing is read from certificates."""

from __future__ import annotations

from backend.extensions import db
from backend.models.themes import ThemeConsent
from tests.factories import create_certificate, create_user, error_of
from tests.themes.factories import bundle_id


def test_the_preview_names_certificates_and_fields_but_shows_no_values(api, restaurant):
    response = api.get(f"/themes/{restaurant.bundle_id}/consent-preview", token=restaurant.token)
    assert response.status_code == 200
    preview = response.get_json()
    (licence,) = preview["certificates"]
    assert licence["id"] == restaurant.licence.id
    assert licence["serial"] == restaurant.licence.serial
    assert licence["fields"] == ["名称", "统一社会信用代码", "法定代表人"]
    assert licence["materials"] == ["营业执照"]
    assert "李华" not in response.get_data(as_text=True)
    assert preview["not_held"] == ["id_card"]


def test_a_consent_is_recorded_with_who_what_for_which_bundle_and_when(api, restaurant):
    response = api.post(f"/themes/{restaurant.bundle_id}/consents", token=restaurant.token)
    assert response.status_code == 201
    body = response.get_json()
    consent = db.session.get(ThemeConsent, body["id"])
    assert consent.user_id == restaurant.representative.id
    assert consent.bundle_id == restaurant.bundle_id
    assert consent.certificate_ids == [restaurant.licence.id]
    assert consent.fields == [
        "business_licence.名称",
        "business_licence.统一社会信用代码",
        "business_licence.法定代表人",
    ]
    assert consent.created_at is not None and body["state"] == "active"
    listed = api.get("/consents", token=restaurant.token).get_json()["consents"]
    assert [c["id"] for c in listed] == [body["id"]]


def test_with_consent_the_form_is_prefilled_with_the_certificate_values(api, restaurant):
    consent_id = api.post(
        f"/themes/{restaurant.bundle_id}/consents", token=restaurant.token
    ).get_json()["id"]
    response = api.get(
        f"/themes/{restaurant.bundle_id}/prefill?consent_id={consent_id}", token=restaurant.token
    )
    assert response.status_code == 200
    fields = {f["label"]: f for f in response.get_json()["fields"]}
    assert fields["经营者名称"]["value"] == "杭味餐饮管理有限公司"
    assert fields["统一社会信用代码"]["value"] == restaurant.company.credit_code
    assert fields["法定代表人"]["value"] == "李华"
    assert fields["法定代表人"]["certificate"] == {
        "id": restaurant.licence.id,
        "serial": restaurant.licence.serial,
    }
    assert fields["经营场所"]["value"] is None and fields["经营场所"]["prefilled"] is False


def test_a_citizen_gets_values_from_several_personal_certificates(api, city):
    citizen = create_user(display_name="张明")
    create_certificate(
        "id_card",
        holder=citizen.person,
        fields={
            "姓名": "张明",
            "性别": "男",
            "民族": "汉",
            "出生日期": "1990-03-07",
            "住址": "杭州市西湖区",
            "公民身份号码": "330106199003070000",
            "签发机关": "杭州市公安局西湖分局",
            "有效期限": "2030-01-01",
        },
    )
    token = api.login(citizen)
    school = bundle_id("school_enrolment")
    consent_id = api.post(f"/themes/{school}/consents", token=token).get_json()["id"]
    fields = api.get(f"/themes/{school}/prefill?consent_id={consent_id}", token=token).get_json()[
        "fields"
    ]
    assert {f["label"]: f["value"] for f in fields} == {"监护人姓名": "张明", "家庭住址": None}


def test_without_consent_nothing_is_read_from_certificates(api, restaurant):
    # An unreadable payload: any attempt to read the licence's fields would fail loudly.
    restaurant.licence.payload_cipher = b"not a ciphertext"
    db.session.commit()
    response = api.post(
        f"/themes/{restaurant.bundle_id}/applications",
        json={"values": {"经营场所": "文三路1号"}},
        token=restaurant.token,
        headers={"Idempotency-Key": "no-consent-0001"},
    )
    assert response.status_code == 422
    missing = [d["field"] for d in error_of(response)["details"]]
    assert missing == ["values.经营者名称", "values.统一社会信用代码", "values.法定代表人"]
    preview = api.get(f"/themes/{restaurant.bundle_id}/consent-preview", token=restaurant.token)
    assert preview.status_code == 200
    complete = {
        "经营者名称": "杭味餐饮管理有限公司",
        "统一社会信用代码": restaurant.company.credit_code,
        "法定代表人": "李华",
        "经营场所": "文三路1号",
    }
    response = api.post(
        f"/themes/{restaurant.bundle_id}/applications",
        json={"values": complete},
        token=restaurant.token,
        headers={"Idempotency-Key": "no-consent-0003"},
    )
    assert response.status_code == 201
    assert response.get_json()["form_values"] == complete


def test_a_certificate_whose_seal_no_longer_verifies_fills_nothing(api, restaurant):
    consent_id = api.post(
        f"/themes/{restaurant.bundle_id}/consents", token=restaurant.token
    ).get_json()["id"]
    restaurant.licence.payload_cipher = b"not a ciphertext"
    db.session.commit()
    response = api.get(
        f"/themes/{restaurant.bundle_id}/prefill?consent_id={consent_id}", token=restaurant.token
    )
    assert response.status_code == 200
    assert [f["value"] for f in response.get_json()["fields"]] == [None] * 4


def test_without_consent_exempt_certificates_are_not_attached(api, restaurant):
    values = {
        "经营者名称": "杭味餐饮管理有限公司",
        "统一社会信用代码": restaurant.company.credit_code,
        "法定代表人": "李华",
        "经营场所": "文三路1号",
    }
    response = api.post(
        f"/themes/{restaurant.bundle_id}/applications",
        json={"values": values},
        token=restaurant.token,
        headers={"Idempotency-Key": "no-consent-0002"},
    )
    assert response.status_code == 201
    application = response.get_json()
    assert application["prefilled_fields"] == [] and application["consent_id"] is None
    licence = next(m for m in application["parts"][0]["materials"] if m["name"] == "营业执照")
    assert licence["status"] == "missing" and "certificate" not in licence


def test_a_withdrawn_consent_prefills_nothing_and_cannot_be_used(api, restaurant):
    consent_id = api.post(
        f"/themes/{restaurant.bundle_id}/consents", token=restaurant.token
    ).get_json()["id"]
    withdrawn = api.post(f"/consents/{consent_id}/withdraw", token=restaurant.token)
    assert withdrawn.status_code == 200 and withdrawn.get_json()["state"] == "withdrawn"
    assert withdrawn.get_json()["withdrawn_at"] is not None
    response = api.get(
        f"/themes/{restaurant.bundle_id}/prefill?consent_id={consent_id}", token=restaurant.token
    )
    assert response.status_code == 409
    assert error_of(response)["code"] == "consent_not_active"


def test_someone_elses_consent_is_not_found(api, restaurant):
    consent_id = api.post(
        f"/themes/{restaurant.bundle_id}/consents", token=restaurant.token
    ).get_json()["id"]
    other = api.login(create_user())
    prefill = api.get(
        f"/themes/{restaurant.bundle_id}/prefill?consent_id={consent_id}", token=other
    )
    assert prefill.status_code == 404
    assert api.post(f"/consents/{consent_id}/withdraw", token=other).status_code == 404


def test_a_consent_for_another_bundle_cannot_prefill_this_one(api, restaurant):
    consent_id = api.post(
        f"/themes/{restaurant.bundle_id}/consents", token=restaurant.token
    ).get_json()["id"]
    response = api.get(
        f"/themes/{bundle_id('retirement')}/prefill?consent_id={consent_id}", token=restaurant.token
    )
    assert response.status_code == 409 and error_of(response)["code"] == "consent_mismatch"


def test_a_consent_given_before_the_bundle_changed_must_be_given_again(api, restaurant, admin):
    from tests.themes.factories import bundle_body

    consent_id = api.post(
        f"/themes/{restaurant.bundle_id}/consents", token=restaurant.token
    ).get_json()["id"]
    api.put(f"/theme-bundles/{restaurant.bundle_id}", json=bundle_body(), token=admin.token)
    api.post(f"/theme-bundles/{restaurant.bundle_id}/publish", token=admin.token)
    response = api.get(
        f"/themes/{restaurant.bundle_id}/prefill?consent_id={consent_id}", token=restaurant.token
    )
    assert response.status_code == 409 and error_of(response)["code"] == "consent_outdated"


def test_staff_and_unbound_users_cannot_consent(api, restaurant):
    assert (
        api.post(f"/themes/{restaurant.bundle_id}/consents", token=restaurant.amr_token).status_code
        == 403
    )
    unbound = create_user(person=None)
    response = api.post(f"/themes/{restaurant.bundle_id}/consents", token=api.login(unbound))
    assert response.status_code == 403
    assert error_of(response)["code"] == "not_real_name_bound"
    assert api.post(f"/themes/{restaurant.bundle_id}/consents").status_code == 401
