"""Per applicant: which materials a logged-in holder need not bring, and why."""

from __future__ import annotations

from datetime import date

import pytest

from backend.extensions import db
from backend.models import Role
from tests.factories import create_certificate, create_company_representative, create_user
from tests.service_items.factories import create_item, material


@pytest.fixture
def newborn_item(seeded):
    """A published item with one material of every exemption basis."""
    return create_item(
        "psb",
        "published",
        category="行政确认",
        main_item="户口登记",
        sub_item="出生登记",
        handling_item="新生儿出生入户",
        materials=[
            material(
                "父母居民户口簿",
                certificate_type="household_register",
                exemption_basis="certificate",
            ),
            material(
                "父母结婚证", certificate_type="marriage_certificate", exemption_basis="certificate"
            ),
            material(
                "出生医学证明",
                issuing_department="市卫生健康委员会",
                exemption_basis="verification_request",
            ),
            material("情况说明", exemption_basis="commitment"),
            material("新生儿照片"),
        ],
    )


def _verdicts(api, item, token) -> tuple[dict[str, dict], dict | None]:
    body = api.get(f"/service-items/{item.id}", token=token).get_json()
    return {m["name"]: m["for_you"] for m in body["materials"]}, body["applicant"]


def test_a_holder_of_the_certificate_need_not_bring_it_and_is_told_why(api, newborn_item):
    citizen = create_user(Role.CITIZEN)
    create_certificate("household_register", holder=citizen.person)
    verdicts, summary = _verdicts(api, newborn_item, api.login(citizen))

    assert verdicts["父母居民户口簿"]["status"] == "exempt"
    assert verdicts["父母居民户口簿"]["reason_code"] == "certificate_held"
    assert "居民户口簿" in verdicts["父母居民户口簿"]["reason"]
    assert verdicts["父母结婚证"]["status"] == "must_submit"
    assert verdicts["父母结婚证"]["reason_code"] == "certificate_not_held"
    assert "结婚证" in verdicts["父母结婚证"]["reason"]
    assert verdicts["出生医学证明"] == {
        "status": "exempt",
        "reason_code": "verification_request",
        "reason": "由受理部门向市卫生健康委员会发起部门协查核验,无需您提交",
    }
    assert verdicts["情况说明"]["status"] == "exempt"
    assert verdicts["情况说明"]["reason_code"] == "commitment"
    assert verdicts["新生儿照片"]["status"] == "must_submit"
    assert verdicts["新生儿照片"]["reason_code"] == "no_exemption"
    assert summary == {"real_name_bound": True, "exempt": 3, "must_submit": 2}


def test_without_the_certificate_the_same_material_must_be_brought(api, newborn_item):
    citizen = create_user(Role.CITIZEN)
    someone_else = create_user(Role.CITIZEN)
    create_certificate("household_register", holder=someone_else.person)
    verdicts, summary = _verdicts(api, newborn_item, api.login(citizen))
    assert verdicts["父母居民户口簿"]["status"] == "must_submit"
    assert verdicts["父母居民户口簿"]["reason_code"] == "certificate_not_held"
    assert summary["exempt"] == 2 and summary["must_submit"] == 3


def test_a_revoked_or_expired_certificate_does_not_exempt(api, newborn_item):
    citizen = create_user(Role.CITIZEN)
    revoked = create_certificate("household_register", holder=citizen.person)
    revoked.status = "revoked"
    db.session.commit()
    create_certificate("marriage_certificate", holder=citizen.person, expires_on=date(2020, 12, 31))
    verdicts, _ = _verdicts(api, newborn_item, api.login(citizen))
    assert verdicts["父母居民户口簿"]["status"] == "must_submit"
    assert verdicts["父母结婚证"]["status"] == "must_submit"


def test_a_company_representative_is_exempt_through_the_companys_certificate(api, seeded):
    item = create_item(
        "amr",
        "published",
        materials=[
            material(
                "营业执照", certificate_type="business_licence", exemption_basis="certificate"
            ),
            material(
                "法定代表人身份证明", certificate_type="id_card", exemption_basis="certificate"
            ),
        ],
    )
    representative = create_company_representative()
    create_certificate("business_licence", holder=representative.companies[0])
    verdicts, summary = _verdicts(api, item, api.login(representative))
    assert verdicts["营业执照"]["status"] == "exempt"
    assert verdicts["法定代表人身份证明"]["status"] == "must_submit"
    assert summary["exempt"] == 1


def test_an_account_without_real_name_binding_is_asked_to_bind(api, newborn_item):
    unbound = create_user(Role.CITIZEN, person_id=None, person=None)
    verdicts, summary = _verdicts(api, newborn_item, api.login(unbound))
    assert verdicts["父母居民户口簿"]["reason_code"] == "not_real_name_bound"
    assert verdicts["出生医学证明"]["status"] == "exempt"
    assert summary["real_name_bound"] is False


def test_staff_and_anonymous_callers_get_the_item_without_personal_verdicts(
    api, staff, newborn_item
):
    for token in (None, staff.amr_token):
        body = api.get(f"/service-items/{newborn_item.id}", token=token).get_json()
        assert body["applicant"] is None
        assert all("for_you" not in m for m in body["materials"])
