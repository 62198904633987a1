"""Bad input to an application: every problem named at once, nothing half-written."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.extensions import db
from backend.models.themes import ThemeApplication, ThemeApplicationPart
from tests.factories import error_of
from tests.themes.factories import bundle_body, new_key


def post(api, restaurant, body, key=None, bundle=None):
    return api.post(
        f"/themes/{bundle or restaurant.bundle_id}/applications",
        json=body,
        token=restaurant.token,
        headers={"Idempotency-Key": key or new_key()},
    )


def nothing_written():
    return (
        db.session.scalar(select(func.count(ThemeApplication.id))) == 0
        and db.session.scalar(select(func.count(ThemeApplicationPart.id))) == 0
    )


def test_all_missing_required_fields_are_reported_at_once(api, restaurant):
    response = post(api, restaurant, {"values": {}})
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid_form"
    assert [(d["field"], d["code"]) for d in error["details"]] == [
        ("values.经营者名称", "missing_field"),
        ("values.统一社会信用代码", "missing_field"),
        ("values.法定代表人", "missing_field"),
        ("values.经营场所", "missing_field"),
    ]
    assert nothing_written()


def test_a_blank_value_counts_as_missing(api, restaurant):
    consent_id = api.post(
        f"/themes/{restaurant.bundle_id}/consents", token=restaurant.token
    ).get_json()["id"]
    response = post(api, restaurant, {"consent_id": consent_id, "values": {"经营场所": "   "}})
    assert response.status_code == 422
    assert error_of(response)["field"] == "values.经营场所"


def _custom_bundle(api, admin) -> int:
    created = api.post("/theme-bundles", json=bundle_body(), token=admin.token).get_json()
    api.post(f"/theme-bundles/{created['id']}/publish", token=admin.token)
    return created["id"]


def test_a_field_type_mismatch_names_the_field(api, restaurant, admin):
    bundle = _custom_bundle(api, admin)
    consent_id = api.post(f"/themes/{bundle}/consents", token=restaurant.token).get_json()["id"]
    values = {"经营场所": "文三路1号", "开业日期": "下周一", "座位数": "四十"}
    response = post(api, restaurant, {"consent_id": consent_id, "values": values}, bundle=bundle)
    assert response.status_code == 422
    details = error_of(response)["details"]
    assert [(d["field"], d["code"]) for d in details] == [
        ("values.开业日期", "invalid_type"),
        ("values.座位数", "invalid_type"),
    ]
    assert "开业日期" in details[0]["message"]
    assert nothing_written()
    values = {"经营场所": "文三路1号", "开业日期": "2026-12-01", "座位数": 40}
    ok = post(api, restaurant, {"consent_id": consent_id, "values": values}, bundle=bundle)
    assert ok.status_code == 201, ok.get_json()
    assert ok.get_json()["form_values"]["座位数"] == 40
    assert ok.get_json()["form_values"]["成立日期"] == "2023-05-01"


def test_a_field_the_form_does_not_have_is_rejected_by_name(api, restaurant):
    response = post(api, restaurant, {"values": {"经营场所": "x", "口味": "辣"}})
    assert response.status_code == 422
    assert ("values.口味", "unknown_field") in {
        (d["field"], d["code"]) for d in error_of(response)["details"]
    }


def test_applying_to_an_unpublished_bundle_is_not_found(api, restaurant, admin):
    api.post(f"/theme-bundles/{restaurant.bundle_id}/unpublish", token=admin.token)
    response = post(api, restaurant, {"values": {"经营场所": "x"}})
    assert response.status_code == 404
    assert error_of(response)["code"] == "theme_not_found"
    draft = api.post("/theme-bundles", json=bundle_body(), token=admin.token).get_json()["id"]
    assert post(api, restaurant, {"values": {}}, bundle=draft).status_code == 404
    assert post(api, restaurant, {"values": {}}, bundle=999999).status_code == 404
    assert nothing_written()


def test_an_application_without_an_idempotency_key_is_refused(api, restaurant):
    response = api.post(
        f"/themes/{restaurant.bundle_id}/applications",
        json={"values": {}},
        token=restaurant.token,
    )
    assert response.status_code == 400
    assert error_of(response)["field"] == "idempotency_key"


def test_a_malformed_or_contradictory_idempotency_key_is_refused(api, restaurant):
    short = post(api, restaurant, {"values": {}}, key="short")
    assert short.status_code == 400 and error_of(short)["code"] == "invalid_value"
    both = post(api, restaurant, {"values": {}, "idempotency_key": "another-key-1"})
    assert both.status_code == 400
    assert error_of(both)["code"] == "idempotency_key_mismatch"


def test_values_of_the_wrong_shape_and_unknown_body_fields_are_rejected(api, restaurant):
    wrong = post(api, restaurant, {"values": ["经营场所"]})
    assert wrong.status_code == 400 and error_of(wrong)["details"][0]["field"] == "values"
    extra = post(api, restaurant, {"values": {}, "files": []})
    assert extra.status_code == 400 and error_of(extra)["details"][0]["field"] == "files"
    missing = post(api, restaurant, {})
    assert missing.status_code == 400 and error_of(missing)["details"][0]["field"] == "values"


def test_an_unknown_consent_is_not_found_and_nothing_is_written(api, restaurant):
    response = post(api, restaurant, {"consent_id": 424242, "values": {"经营场所": "x"}})
    assert response.status_code == 404 and error_of(response)["field"] == "consent_id"
    assert nothing_written()


def test_a_bundle_edit_never_changes_a_submitted_application(api, restaurant, admin):
    values = {
        "经营者名称": "杭味餐饮管理有限公司",
        "统一社会信用代码": restaurant.company.credit_code,
        "法定代表人": "李华",
        "经营场所": "文三路1号",
    }
    application = post(api, restaurant, {"values": values}).get_json()
    edited = bundle_body(title="我要开餐馆(新版)")
    api.put(f"/theme-bundles/{restaurant.bundle_id}", json=edited, token=admin.token)
    api.post(f"/theme-bundles/{restaurant.bundle_id}/publish", token=admin.token)
    assert api.get(f"/themes/{restaurant.bundle_id}").get_json()["version"] == 2
    after = api.get(f"/applications/{application['id']}", token=restaurant.token).get_json()
    assert after["bundle_version"] == 1 and after["title"] == "我要开餐馆"
    assert after["form_values"] == values
    assert len(after["parts"]) == 3
