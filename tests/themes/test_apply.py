"""Applying once through a bundle: parts per department, references, verification requests."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from backend.extensions import db
from backend.models import User
from backend.models.themes import ThemeApplication, ThemeApplicationPart, ThemeConsent
from backend.models.verification import VerificationRequest
from backend.services import theme_applications
from backend.services.accounts import person_id_number
from notifications.models import Notification
from tests.factories import error_of
from tests.themes.factories import new_key

FORM = {"经营场所": "杭州市西湖区文三路1号一楼"}
# Without consent nothing is read from certificates: the applicant types everything.
TYPED_FORM = {
    "经营者名称": "杭味餐饮管理有限公司",
    "统一社会信用代码": "91330106MA0000000X",
    "法定代表人": "李华",
    **FORM,
}


def consent(api, restaurant) -> int:
    response = api.post(f"/themes/{restaurant.bundle_id}/consents", token=restaurant.token)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def apply(api, restaurant, consent_id=None, values=None, key=None, **kwargs):
    body = {"values": (FORM if consent_id else TYPED_FORM) if values is None else values}
    if consent_id is not None:
        body["consent_id"] = consent_id
    return api.post(
        f"/themes/{restaurant.bundle_id}/applications",
        json=body,
        token=restaurant.token,
        headers={"Idempotency-Key": key or new_key()},
        **kwargs,
    )


def test_submission_creates_one_part_per_department_of_the_bundle(api, restaurant):
    response = apply(api, restaurant, consent(api, restaurant))
    assert response.status_code == 201, response.get_json()
    application = response.get_json()
    departments = [p["department"]["name"] for p in application["parts"]]
    assert departments == ["市市场监督管理局", "市卫生健康委员会", "市消防救援支队"]
    assert all(p["state"] == "submitted" for p in application["parts"])
    assert db.session.scalar(select(func.count(ThemeApplicationPart.id))) == 3


def test_the_form_is_completed_from_the_consented_licence_on_the_server(api, restaurant):
    values = {"经营场所": "文三路1号", "经营者名称": "客户端填写的名称"}
    application = apply(api, restaurant, consent(api, restaurant), values).get_json()
    assert application["form_values"] == {
        "经营者名称": "杭味餐饮管理有限公司",
        "统一社会信用代码": restaurant.company.credit_code,
        "法定代表人": "李华",
        "经营场所": "文三路1号",
    }
    assert set(application["prefilled_fields"]) == {"法定代表人", "统一社会信用代码", "经营者名称"}


def test_exempt_materials_are_references_to_certificates_and_the_rest_are_listed(api, restaurant):
    application = apply(api, restaurant, consent(api, restaurant)).get_json()
    food = application["parts"][0]["materials"]
    licence = next(m for m in food if m["name"] == "营业执照")
    assert licence["status"] == "attached"
    assert licence["certificate"] == {
        "id": restaurant.licence.id,
        "serial": restaurant.licence.serial,
        "type_code": "business_licence",
    }
    assert "fields" not in licence["certificate"]
    assert next(m for m in food if m["name"] == "食品安全管理制度")["status"] == "commitment"
    health = application["parts"][1]["materials"]
    # The health commission issues this proof itself: it checks its records, no request.
    assert next(m for m in health if m["name"] == "从业人员健康合格证明")["status"] == (
        "department_check"
    )
    assert db.session.scalar(select(func.count(VerificationRequest.id))) == 0
    missing = {m["name"] for m in application["missing_materials"]}
    assert missing == {
        "食品经营许可申请书",
        "法定代表人身份证明",
        "与食品经营相适应的主要设备设施布局、操作流程文件",
        "卫生许可申请表",
        "消防安全检查申报表",
        "场所平面布置图",
    }


def test_a_material_exempt_by_verification_request_creates_the_linked_request(api, city):
    from tests.factories import create_user
    from tests.themes.factories import bundle_id

    citizen = create_user(display_name="王退休")
    token = api.login(citizen)
    retirement = bundle_id("retirement")
    consent_id = api.post(f"/themes/{retirement}/consents", token=token).get_json()["id"]
    response = api.post(
        f"/themes/{retirement}/applications",
        json={
            "consent_id": consent_id,
            "values": {"姓名": "王退休", "公民身份号码": person_id_number(citizen.person)},
        },
        token=token,
        headers={"Idempotency-Key": new_key()},
    )
    assert response.status_code == 201, response.get_json()
    application = response.get_json()
    (part,) = application["parts"]
    proof = next(m for m in part["materials"] if m["name"] == "无犯罪记录证明")
    assert proof["status"] == "verification_requested"
    request = db.session.get(VerificationRequest, proof["verification_request_id"])
    assert request.related_application_id == f"theme-application-{application['id']}"
    assert request.requesting_department.code == "hrss"
    assert request.responding_department.code == "psb"
    assert request.requested_by_id is None
    assert request.subject_person_id == citizen.person_id


def test_a_double_submit_with_the_same_key_creates_one_application(api, restaurant):
    consent_id = consent(api, restaurant)
    first = apply(api, restaurant, consent_id, key="double-submit-1")
    second = apply(api, restaurant, consent_id, key="double-submit-1")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.get_json()["id"] == second.get_json()["id"]
    assert db.session.scalar(select(func.count(ThemeApplication.id))) == 1
    assert db.session.scalar(select(func.count(ThemeApplicationPart.id))) == 3


def test_the_key_may_come_in_the_body_instead_of_the_header(api, restaurant):
    path = f"/themes/{restaurant.bundle_id}/applications"
    body = {"values": TYPED_FORM, "idempotency_key": "body-key-0001"}
    first = api.post(path, json=body, token=restaurant.token)
    second = api.post(path, json=body, token=restaurant.token)
    assert (first.status_code, second.status_code) == (201, 200)
    assert db.session.scalar(select(func.count(ThemeApplication.id))) == 1


def test_two_submits_racing_with_the_same_key_end_with_one_application(app, api, restaurant):
    user_id, bundle = restaurant.representative.id, restaurant.bundle_id
    db.session.remove()
    start = threading.Barrier(2)
    results: list[tuple[int, bool]] = []
    failures: list[BaseException] = []

    def submit():
        with app.app_context():
            try:
                user = db.session.get(User, user_id)
                start.wait(timeout=10)
                application, created = theme_applications.submit_application(
                    user, bundle, TYPED_FORM, None, None, "race-key-0001"
                )
                results.append((application.id, created))
            except BaseException as exc:  # noqa: BLE001  (reported below)
                failures.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []
    assert sorted(created for _, created in results) == [False, True]
    assert len({application_id for application_id, _ in results}) == 1
    assert db.session.scalar(select(func.count(ThemeApplication.id))) == 1


def test_the_applicant_is_told_and_each_department_is_told_of_its_part(api, restaurant):
    apply(api, restaurant)
    recipients = set(db.session.scalars(select(Notification.user_id)))
    assert recipients == {
        restaurant.representative.id,
        restaurant.amr.id,
        restaurant.health.id,
        restaurant.fire.id,
    }


def test_submitting_with_a_consent_uses_it_up_so_it_can_no_longer_be_withdrawn(api, restaurant):
    consent_id = consent(api, restaurant)
    apply(api, restaurant, consent_id)
    assert db.session.get(ThemeConsent, consent_id).state == "used"
    response = api.post(f"/consents/{consent_id}/withdraw", token=restaurant.token)
    assert response.status_code == 409
    assert error_of(response)["current_state"] == "used"


def test_the_applicant_follows_every_part_in_the_list_and_the_detail(api, restaurant):
    application_id = apply(api, restaurant).get_json()["id"]
    listed = api.get("/applications", token=restaurant.token).get_json()["applications"]
    assert [a["id"] for a in listed] == [application_id]
    detail = api.get(f"/applications/{application_id}", token=restaurant.token).get_json()
    assert detail["status"] == "in_progress"
    assert [p["timeline"][0]["kind"] for p in detail["parts"]] == ["submitted"] * 3


def test_an_id_number_in_the_form_is_checked_encrypted_and_masked_for_officers(api, city):
    from tests.factories import create_officer, create_user
    from tests.themes.factories import bundle_id, department

    citizen = create_user(display_name="王退休")
    token = api.login(citizen)
    retirement = bundle_id("retirement")
    path = f"/themes/{retirement}/applications"
    bad = api.post(
        path,
        json={"values": {"姓名": "王退休", "公民身份号码": "330106199001011234"}},
        token=token,
        headers={"Idempotency-Key": new_key()},
    )
    assert bad.status_code == 422
    assert error_of(bad)["details"] == [
        {
            "field": "values.公民身份号码",
            "code": "invalid_type",
            "message": "字段类型错误:公民身份号码 应为有效的公民身份号码",
        }
    ]
    number = person_id_number(citizen.person)
    response = api.post(
        path,
        json={"values": {"姓名": "王退休", "公民身份号码": number}},
        token=token,
        headers={"Idempotency-Key": new_key()},
    )
    assert response.status_code == 201
    assert response.get_json()["form_values"]["公民身份号码"] == number
    stored = db.session.get(ThemeApplication, response.get_json()["id"])
    assert number not in str(stored.form_values) and number.encode() not in stored.sensitive_cipher
    officer = api.login(create_officer(department("hrss")))
    (part,) = api.get("/application-parts", token=officer).get_json()["parts"]
    shown = part["application"]["form_values"]["公民身份号码"]
    assert shown != number and shown[:4] == number[:4] and shown[-4:] == number[-4:]
