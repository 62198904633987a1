"""How shared domain objects are shown to callers; personal data is masked here, once."""

from __future__ import annotations

from typing import Any

from backend.models import ROLE_LABELS_BY_VALUE, User
from backend.security.crypto import mask_id_number, mask_phone
from backend.services.accounts import companies_of, person_id_number, person_phone


def present_user(user: User) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "role_label": ROLE_LABELS_BY_VALUE.get(user.role, user.role),
        "real_name_bound": user.person_id is not None,
        "wechat_bound": user.wechat_openid is not None,
        "department": (
            {"id": user.department.id, "code": user.department.code, "name": user.department.name}
            if user.department
            else None
        ),
        "verifier_organisation": (
            {"id": user.verifier_organisation.id, "name": user.verifier_organisation.name}
            if user.verifier_organisation
            else None
        ),
        "companies": [
            {"id": c.id, "name": c.name, "credit_code": c.credit_code} for c in companies_of(user)
        ],
        "person": None,
    }
    if user.person is not None:
        phone = person_phone(user.person)
        data["person"] = {
            "name": user.person.name,
            "id_number_masked": mask_id_number(person_id_number(user.person)),
            "phone_masked": mask_phone(phone) if phone else None,
        }
    return data
