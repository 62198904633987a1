"""How a verification request is shown: internal notes only to staff, ID numbers masked
to everyone but the subject, and the answer's seal re-checked each time it is shown."""

from __future__ import annotations

import base64
from typing import Any

from backend import clock
from backend.extensions import db
from backend.models import Department, Person, Role, User
from backend.models.verification import VerificationEvent, VerificationRequest
from backend.security.crypto import mask_id_number
from backend.services import verification as service
from backend.services.accounts import person_id_number
from backend.services.verification_answers import verify_answer
from backend.services.verification_notify import RESULT_LABELS

EVENT_LABELS = {
    "submitted": "发起协查",
    "accepted": "受理",
    "answered": "答复",
    "answered_from_previous": "依据已有签章答复即时答复",
    "rejected": "退回",
    "withdrawn": "撤回",
    "overdue": "逾期督办",
    "reminder": "催办",
    "due_soon": "到期提醒",
    "note": "内部备注",
}


def _department(department: Department | None) -> dict[str, Any] | None:
    if department is None:
        return None
    return {"id": department.id, "code": department.code, "name": department.name}


def _subject(request: VerificationRequest, viewer: User) -> dict[str, Any]:
    if request.subject_company is not None:
        company = request.subject_company
        return {"kind": "company", "name": company.name, "credit_code": company.credit_code}
    person = db.session.get(Person, request.subject_person_id)
    number = person_id_number(person)
    is_holder = viewer.person_id == person.id
    return {
        "kind": "person",
        "name": person.name,
        "id_number": number if is_holder else mask_id_number(number),
    }


def _event(event: VerificationEvent, seen_as: str) -> dict[str, Any]:
    actor: dict[str, Any] = {
        "kind": "officer" if event.actor_user_id else "system",
        "department": event.actor_department.name if event.actor_department else None,
    }
    if seen_as == "staff" and event.actor is not None:
        actor["name"] = event.actor.display_name
    return {
        "id": event.id,
        "kind": event.kind,
        "label": EVENT_LABELS.get(event.kind, event.kind),
        "state": event.state,
        "at": clock.to_local(event.created_at),
        "actor": actor,
        "note": event.note,
        "internal": event.internal,
    }


def _answer(request: VerificationRequest) -> dict[str, Any] | None:
    if request.result is None:
        return None
    check = verify_answer(request)
    source = request.answered_from or request
    return {
        "result": request.result,
        "result_label": RESULT_LABELS[request.result],
        "text": request.answer,
        "answered_at": clock.to_local(request.answered_at),
        "valid_until": clock.to_local(request.valid_until),
        "answered_from": (
            {
                "id": source.id,
                "answered_at": clock.to_local(source.answered_at),
                "department": _department(source.responding_department),
            }
            if request.answered_from is not None
            else None
        ),
        "seal": {
            "key_id": source.seal_key_id,
            "algorithm": source.seal_algorithm,
            "signature": (
                base64.b64encode(bytes(source.seal_signature)).decode()
                if source.seal_signature
                else None
            ),
            "verified": check.ok,
            "reason": check.reason,
        },
        "certificate": (
            {"id": request.certificate.id, "serial": request.certificate.serial}
            if request.certificate is not None
            else None
        ),
    }


def _actions(request: VerificationRequest, viewer: User) -> list[str]:
    """What the viewer's department may do next (for the console's buttons)."""
    if viewer.role != Role.DEPARTMENT_OFFICER:
        return []
    allowed = service.allowed_actions(request.state)
    actions = []
    if viewer.department_id == request.responding_department_id:
        actions += [a for a in allowed if a in service.RESPONDER_ACTIONS]
    if viewer.department_id == request.requesting_department_id:
        actions += [a for a in allowed if a in service.REQUESTER_ACTIONS]
    return actions


def present_request(request: VerificationRequest, viewer: User, seen_as: str) -> dict[str, Any]:
    """The request as ``viewer`` may see it (``seen_as``: staff | subject)."""
    events = [e for e in request.events if seen_as == "staff" or not e.internal]
    return {
        "id": request.id,
        "state": request.state,
        "state_label": service.STATE_LABELS[request.state],
        "proof_type": {"code": request.route.code, "name": request.route.name},
        "subject": _subject(request, viewer),
        "requesting_department": _department(request.requesting_department),
        "responding_department": _department(request.responding_department),
        "question": request.question,
        "purpose": request.purpose,
        "legal_basis": request.legal_basis,
        "related_application_id": request.related_application_id,
        "created_at": clock.to_local(request.created_at),
        "deadline": clock.to_local(request.deadline),
        "accepted_at": clock.to_local(request.accepted_at),
        "closed_at": clock.to_local(request.closed_at),
        "overdue": request.overdue_at is not None,
        "overdue_at": clock.to_local(request.overdue_at),
        "rejection_reason": request.rejection_reason,
        "answer": _answer(request),
        "timeline": [_event(e, seen_as) for e in events],
        "actions": _actions(request, viewer),
    }
