"""A signed answer is a proof: it verifies, tampering shows, and later requests reuse it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from backend import clock
from backend.extensions import db
from backend.models import Notification, Person
from backend.models.verification import VerificationRequest
from backend.services import seals
from backend.services import verification as service
from backend.services.accounts import person_id_number
from backend.services.certificate_store import read_payload, verify_certificate
from backend.services.verification_answers import answer_document, verify_answer
from tests.factories import create_certificate_type, error_of
from tests.verification.factories import ANSWER, QUESTION, answer, bring_to, create_route, submit


def _second_request(world, **kwargs):
    """The same question about the same citizen, asked later by another office."""
    kwargs.setdefault("requesting_department_id", world.bystander.id)
    kwargs.setdefault("requested_by_id", world.outsider.id)
    return submit(world, **kwargs)


def test_an_answer_is_sealed_by_the_responding_department_and_verifies(world):
    request = bring_to(world, "answered")
    assert request.seal_key_id.startswith("health-")
    check = verify_answer(request)
    assert check.ok and check.reason == "ok"
    document = answer_document(request)
    assert document["subject_hash"] == request.subject_hash
    assert document["question"] == QUESTION and document["result"] == "confirmed"
    assert person_id_number(world.citizen.person) not in json.dumps(document, ensure_ascii=False)
    signature = bytes(request.seal_signature)
    assert seals.verify(request.seal_key_id, seals.canonical_json(document), signature).ok


@pytest.mark.parametrize(
    "column, value",
    [
        ("answer", "经核实,该人员未持有健康证明。"),
        ("result", "not_confirmed"),
        ("question", "改过的问题"),
    ],
)
def test_a_tampered_answer_fails_verification(api, world, column, value):
    request = bring_to(world, "answered")
    setattr(request, column, value)
    db.session.commit()
    check = verify_answer(db.session.get(VerificationRequest, request.id))
    assert not check.ok and check.reason == "bad_signature"
    shown = api.get(f"/verification-requests/{request.id}", token=api.login(world.requester))
    assert shown.get_json()["answer"]["seal"]["verified"] is False


def test_an_answer_under_a_revoked_seal_no_longer_verifies(world):
    request = bring_to(world, "answered")
    seals.revoke_seal_key(request.seal_key_id, "私钥泄露")
    assert verify_answer(request).reason == "key_revoked"


def test_a_later_identical_request_is_answered_at_once_from_the_signed_answer(api, world):
    first = bring_to(world, "answered")
    second = _second_request(world, question=f"  {QUESTION}\n")  # whitespace does not matter
    assert second.state == "answered"
    assert second.answered_from_id == first.id
    assert (second.result, second.answer) == ("confirmed", ANSWER)
    assert verify_answer(second).ok
    shown = api.get(f"/verification-requests/{second.id}", token=api.login(world.outsider))
    body = shown.get_json()
    assert body["answer"]["answered_from"]["id"] == first.id
    assert body["answer"]["answered_from"]["department"]["name"] == "市卫生健康委员会"
    assert body["answer"]["seal"]["key_id"] == first.seal_key_id
    assert [e["kind"] for e in body["timeline"]] == ["submitted", "answered_from_previous"]
    assert f"协查编号 {first.id}" in body["timeline"][1]["note"]
    told = db.session.scalars(
        select(Notification.user_id).where(
            Notification.link == f"/verification-requests/{second.id}"
        )
    ).all()
    assert sorted(told) == sorted([world.outsider.id, world.citizen.id])  # not the responder


def test_a_tampered_copy_of_a_reused_answer_fails_verification(world):
    bring_to(world, "answered")
    second = _second_request(world)
    second.answer = "经核实,属实(已篡改)"
    db.session.commit()
    assert verify_answer(second).reason == "copy_mismatch"


@pytest.mark.parametrize(
    "change",
    ["other question", "other citizen", "not confirmed", "expired", "revoked seal", "withdrawn"],
)
def test_an_answer_is_not_reused_when_it_does_not_prove_the_same_thing(world, change):
    if change == "not confirmed":
        first = bring_to(world, "accepted")
        answer(world, first.id, result="not_confirmed", answer="未查询到记录。")
    elif change == "withdrawn":
        bring_to(world, "withdrawn")
    else:
        first = bring_to(world, "answered")
    kwargs = {}
    if change == "other question":
        kwargs["question"] = "该人员是否取得食品安全管理员资格"
    if change == "other citizen":
        kwargs["about"] = world.other_citizen
    if change == "revoked seal":
        seals.revoke_seal_key(first.seal_key_id, "私钥泄露")
    if change == "expired":
        with clock.frozen(first.valid_until + timedelta(seconds=1)):
            second = _second_request(world, **kwargs)
    else:
        second = _second_request(world, **kwargs)
    assert second.state == "submitted" and second.answered_from_id is None


def test_the_responder_may_say_how_long_the_answer_stands(api, world, monday):
    request = bring_to(world, "accepted")
    response = api.post(
        f"/verification-requests/{request.id}/answer",
        json={"result": "confirmed", "answer": ANSWER, "valid_until": "2026-03-31"},
        token=api.login(world.responder),
    )
    assert response.get_json()["answer"]["valid_until"] == "2026-03-31T23:59:59+08:00"
    past = bring_to(world, "accepted", question="另一个问题")
    refused = api.post(
        f"/verification-requests/{past.id}/answer",
        json={"result": "confirmed", "answer": ANSWER, "valid_until": "2026-03-01"},
        token=api.login(world.responder),
    )
    assert refused.status_code == 422 and error_of(refused)["field"] == "valid_until"


def test_by_default_an_answer_stands_for_the_routes_validity(world, monday):
    world.person_route.answer_validity_days = 30
    db.session.commit()
    request = bring_to(world, "answered")
    assert request.valid_until == (monday + timedelta(days=30)).replace(microsecond=0)


def _proof_route(world):
    cert_type = create_certificate_type(
        "practitioner_health_certificate",
        department=world.answering,
        kind="proof",
        name="从业人员健康合格证明",
        fields=[
            {"name": "姓名", "type": "text", "required": True, "max_length": 50},
            {"name": "公民身份号码", "type": "id_number", "required": True},
            {"name": "体检结论", "type": "enum", "required": True, "options": ["合格", "不合格"]},
            {"name": "出具日期", "type": "date", "required": True},
        ],
    )
    return create_route(
        "practitioner_health_certificate",
        "从业人员健康合格证明(电子证明)",
        world.answering,
        certificate_type=cert_type,
    )


def test_a_certificate_may_be_issued_in_the_same_step_as_the_answer(api, world, monday):
    request = bring_to(world, "accepted", route=_proof_route(world))
    response = api.post(
        f"/verification-requests/{request.id}/answer",
        json={
            "result": "confirmed",
            "answer": ANSWER,
            "certificate": {"fields": {"体检结论": "合格"}, "expires_on": "2027-03-01"},
        },
        token=api.login(world.responder),
    )
    assert response.status_code == 200, response.get_json()
    shown = response.get_json()["answer"]["certificate"]
    db.session.expire_all()
    request = db.session.get(VerificationRequest, request.id)
    certificate = request.certificate
    assert shown == {"id": certificate.id, "serial": certificate.serial}
    assert certificate.holder_person_id == world.citizen.person_id
    assert verify_certificate(certificate).ok
    fields = read_payload(certificate)["fields"]
    assert fields == {
        "姓名": world.citizen.person.name,
        "公民身份号码": person_id_number(db.session.get(Person, world.citizen.person_id)),
        "体检结论": "合格",
        "出具日期": "2026-03-02",
    }
    assert answer_document(request)["certificate"] == certificate.serial
    assert verify_answer(request).ok


@pytest.mark.parametrize(
    "result, route_kind, code",
    [
        ("not_confirmed", "proof", "certificate_not_confirmed"),
        ("confirmed", "plain", "certificate_not_available"),
    ],
)
def test_a_certificate_is_only_issued_for_a_confirmed_answer_of_a_certificate_proof_type(
    api, world, result, route_kind, code
):
    route = _proof_route(world) if route_kind == "proof" else world.person_route
    request = bring_to(world, "accepted", route=route)
    response = api.post(
        f"/verification-requests/{request.id}/answer",
        json={"result": result, "answer": ANSWER, "certificate": {"fields": {"体检结论": "合格"}}},
        token=api.login(world.responder),
    )
    assert response.status_code == 422
    assert error_of(response)["code"] == code
    assert error_of(response)["field"] == "certificate"


@pytest.mark.parametrize(
    "fields, field, code",
    [
        ({"体检结论": "良好"}, "体检结论", "invalid_certificate_field"),
        ({}, "体检结论", "missing_field"),
        ({"体检结论": "合格", "血型": "A"}, "血型", "unknown_field"),
    ],
)
def test_certificate_fields_are_checked_against_the_type(api, world, fields, field, code):
    request = bring_to(world, "accepted", route=_proof_route(world))
    response = api.post(
        f"/verification-requests/{request.id}/answer",
        json={"result": "confirmed", "answer": ANSWER, "certificate": {"fields": fields}},
        token=api.login(world.responder),
    )
    assert response.status_code == 422
    assert error_of(response)["code"] == code
    assert error_of(response)["field"] == f"certificate.fields.{field}"


def test_an_overdue_request_can_still_be_answered_and_is_sealed(world):
    request = bring_to(world, "overdue")
    answered = service.answer_request(
        request.id, world.responder, result="confirmed", answer=ANSWER
    )
    assert answered.state == "answered" and answered.overdue_at is not None
    assert verify_answer(answered).ok
