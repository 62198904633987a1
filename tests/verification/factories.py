"""Verification test data: routes and requests made through the real service."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from backend.extensions import db
from backend.models import Department
from backend.models.verification import VerificationRequest, VerificationRoute
from backend.services import verification as service
from backend.services.accounts import person_id_number
from backend.services.verification_sweep import sweep_overdue

QUESTION = "该人员是否持有有效的从业人员健康合格证明"
ANSWER = "经核实,该人员持有有效的从业人员健康合格证明。"


def create_route(
    code: str,
    name: str,
    department: Department,
    subject_kind: str = "person",
    certificate_type=None,
    **kwargs: Any,
) -> VerificationRoute:
    route = VerificationRoute(
        code=code,
        name=name,
        subject_kind=subject_kind,
        department_id=department.id,
        certificate_type_id=certificate_type.id if certificate_type else None,
        deadline_working_days=kwargs.pop("deadline_working_days", 3),
        answer_validity_days=kwargs.pop("answer_validity_days", 90),
        **kwargs,
    )
    db.session.add(route)
    db.session.commit()
    return route


def submit(world, *, about=None, route=None, **kwargs: Any) -> VerificationRequest:
    """A request from world.requester about world.citizen (or ``about``, a citizen User)."""
    about = about or world.citizen
    route = route or world.person_route
    args: dict[str, Any] = {
        "requesting_department_id": world.asking.id,
        "requested_by_id": world.requester.id,
        "proof_type": route.code,
        "question": QUESTION,
        "purpose": "食品经营许可申请",
        "legal_basis": "《中华人民共和国食品安全法》第四十五条",
    }
    if route.subject_kind == "company":
        args.update(subject_name=world.company.name, subject_credit_code=world.company.credit_code)
    else:
        args.update(
            subject_name=about.person.name, subject_id_number=person_id_number(about.person)
        )
    args.update(kwargs)
    return service.create_verification_request(**args)


def answer(world, request_id: int, **kwargs: Any) -> VerificationRequest:
    kwargs.setdefault("result", "confirmed")
    kwargs.setdefault("answer", ANSWER)
    return service.answer_request(request_id, world.responder, **kwargs)


def bring_to(world, state: str, **kwargs: Any) -> VerificationRequest:
    """A fresh request driven to ``state`` through the real transitions."""
    request = submit(world, **kwargs)
    if state == "submitted":
        return request
    if state == "overdue":
        sweep_overdue(request.deadline + timedelta(seconds=1))
        db.session.refresh(request)
        return request
    if state == "withdrawn":
        return service.withdraw_request(request.id, world.requester)
    if state == "rejected":
        return service.reject_request(request.id, world.responder, "不属于本部门职责")
    service.accept_request(request.id, world.responder)
    if state == "accepted":
        return request
    assert state == "answered", state
    return answer(world, request.id)
