"""For one applicant, which materials of a published item they need not bring, and why.

A material exempt by certificate is exempt for this applicant only when they (or a company
they represent) hold a valid certificate of the linked type; by verification request or by
commitment it is exempt for everyone; without a basis it must be submitted.
"""

from __future__ import annotations

from typing import Any

from backend.models import Role, User
from backend.models.service_items import ExemptionBasis, ServiceItemVersion
from backend.services import certificate_store

HOLDER_ROLES = (Role.CITIZEN, Role.COMPANY_REPRESENTATIVE)
EXEMPT = "exempt"
MUST_SUBMIT = "must_submit"


def held_type_codes(user: User) -> set[str]:
    """Type codes of the valid certificates the user and their companies hold today."""
    person_id, company_ids = certificate_store.holder_ids(user)
    return certificate_store.held_valid_type_codes(person_id, company_ids)


def _verdict(status: str, reason_code: str, reason: str) -> dict[str, str]:
    return {"status": status, "reason_code": reason_code, "reason": reason}


def exemptions_for(
    caller: User | None, version: ServiceItemVersion
) -> tuple[dict[int, dict] | None, dict[str, Any] | None]:
    """Per material id, the caller's verdict; and a summary. ``None`` for non-holders."""
    if caller is None or caller.role not in HOLDER_ROLES:
        return None, None
    bound = caller.person_id is not None or bool(caller.companies)
    held = held_type_codes(caller) if bound else set()
    verdicts: dict[int, dict] = {}
    for material in version.materials:
        basis = material.exemption_basis
        certificate_type = material.certificate_type
        if basis == ExemptionBasis.CERTIFICATE and certificate_type is not None:
            if certificate_type.code in held:
                verdict = _verdict(
                    EXEMPT,
                    "certificate_held",
                    f"您持有有效的电子证照「{certificate_type.name}」,可免提交",
                )
            elif not bound:
                verdict = _verdict(
                    MUST_SUBMIT,
                    "not_real_name_bound",
                    "完成实名认证后可查询您的电子证照;目前需提交此材料",
                )
            else:
                verdict = _verdict(
                    MUST_SUBMIT,
                    "certificate_not_held",
                    f"未查询到您名下有效的「{certificate_type.name}」电子证照,需提交此材料",
                )
        elif basis == ExemptionBasis.VERIFICATION_REQUEST:
            issuer = material.issuing_department_name or "出具部门"
            verdict = _verdict(
                EXEMPT,
                "verification_request",
                f"由受理部门向{issuer}发起部门协查核验,无需您提交",
            )
        elif basis == ExemptionBasis.COMMITMENT:
            verdict = _verdict(EXEMPT, "commitment", "实行告知承诺制,签署承诺书即可,无需提交此材料")
        else:
            verdict = _verdict(MUST_SUBMIT, "no_exemption", "此材料需由申请人提交")
        verdicts[material.id] = verdict
    summary = {
        "real_name_bound": bound,
        "exempt": sum(1 for v in verdicts.values() if v["status"] == EXEMPT),
        "must_submit": sum(1 for v in verdicts.values() if v["status"] == MUST_SUBMIT),
    }
    return verdicts, summary
