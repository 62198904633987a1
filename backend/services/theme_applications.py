"""Applying once through a bundle: check the form, attach exempt materials by reference,
split into one part per service item routed to its department, and ask for verification
where a material is exempt by verification request.

Pre-filled values come from consented certificates on the server, never from the client.
``(user, idempotency key)`` is unique, so a double submit yields the one application.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from backend import clock
from backend.errors import Conflict, NotFound, UnprocessableEntity, ValidationFailed
from backend.extensions import db
from backend.models import Certificate, User
from backend.models.service_items import ExemptionBasis, Material
from backend.models.themes import (
    ThemeApplication,
    ThemeApplicationPart,
    ThemeBundleVersion,
    ThemeConsent,
)
from backend.models.verification import VerificationRoute
from backend.security.checksums import is_valid_id_number
from backend.security.crypto import get_cipher, mask_id_number
from backend.services.accounts import companies_of, person_id_number
from backend.services.applicant_exemptions import EXEMPT, exemptions_for
from backend.services.theme_consents import (
    consented_certificates,
    prefilled_values,
    require_bound_holder,
    use_consent,
)
from backend.services.theme_parts import add_event
from backend.services.themes import BundleItem, bundle_items, published_bundle
from backend.services.tx import transactional
from backend.services.verification import create_verification_request
from backend.services.verification_notify import officer_ids
from backend.validation import parse_day
from notifications.service import notify

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,64}$")
LEGAL_BASIS = "“无证明城市”改革:可通过部门协查获取的证明,不再要求申请人提交"


def _key(body_key: str | None, header_key: str | None) -> str:
    if body_key and header_key and body_key != header_key:
        raise ValidationFailed(
            "请求头与请求体中的幂等键不一致",
            code="idempotency_key_mismatch",
            field="idempotency_key",
        )
    key = (header_key or body_key or "").strip()
    if not key:
        raise ValidationFailed(
            "缺少幂等键(请求头 Idempotency-Key)", code="missing_field", field="idempotency_key"
        )
    if not IDEMPOTENCY_KEY.match(key):
        raise ValidationFailed(
            "幂等键应为 8–64 位字母、数字或 _.:-", code="invalid_value", field="idempotency_key"
        )
    return key


def _existing(caller: User, key: str) -> ThemeApplication | None:
    return db.session.scalar(
        select(ThemeApplication).where(
            ThemeApplication.user_id == caller.id, ThemeApplication.idempotency_key == key
        )
    )


def _type_ok(kind: str, value: Any) -> bool:
    if kind == "id_number":
        return isinstance(value, str) and is_valid_id_number(value)
    if kind == "number":  # a finite float: the web form's float() reads "nan", "inf"
        if isinstance(value, float):
            return math.isfinite(value)
        return isinstance(value, int) and not isinstance(value, bool)
    if not isinstance(value, str):
        return False
    if kind == "date":
        return parse_day(value) is not None and len(value) == 10
    return len(value) <= 500


TYPE_LABELS = {
    "text": "文本",
    "date": "日期(YYYY-MM-DD)",
    "number": "数字",
    "id_number": "有效的公民身份号码",
}


def sealed_form(version: ThemeBundleVersion, form: dict[str, Any]) -> tuple[dict, bytes | None]:
    """The form with ID numbers masked, and those ID numbers encrypted."""
    sensitive = {
        f["label"]: form[f["label"]]
        for f in version.form_fields
        if f["type"] == "id_number" and f["label"] in form
    }
    if not sensitive:
        return form, None
    masked = {k: mask_id_number(str(v)) if k in sensitive else v for k, v in form.items()}
    return masked, get_cipher().encrypt(json.dumps(sensitive, ensure_ascii=False).encode())


def unsealed_form(application: ThemeApplication) -> dict[str, Any]:
    """The complete form in clear, for the applicant."""
    if application.sensitive_cipher is None:
        return dict(application.form_values)
    sensitive = json.loads(get_cipher().decrypt(bytes(application.sensitive_cipher)))
    return {**application.form_values, **sensitive}


def checked_form(
    version: ThemeBundleVersion, values: dict[str, Any], prefilled: dict[str, Any]
) -> dict[str, Any]:
    """The complete form, or 422 naming every missing, mistyped or unknown field at once."""
    problems: list[dict[str, str]] = []
    labels = {f["label"] for f in version.form_fields}
    for label in sorted(set(values) - labels):
        problems.append(
            {
                "field": f"values.{label}",
                "code": "unknown_field",
                "message": f"不允许的字段:{label}",
            }
        )
    form: dict[str, Any] = {}
    for field in version.form_fields:
        label = field["label"]
        if label in prefilled:  # read from a consented certificate: authoritative
            form[label] = prefilled[label]
            continue
        value = values.get(label)
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            if field["required"]:
                problems.append(
                    {
                        "field": f"values.{label}",
                        "code": "missing_field",
                        "message": f"缺少必填字段:{label}",
                    }
                )
            continue
        if not _type_ok(field["type"], value):
            problems.append(
                {
                    "field": f"values.{label}",
                    "code": "invalid_type",
                    "message": f"字段类型错误:{label} 应为{TYPE_LABELS[field['type']]}",
                }
            )
            continue
        form[label] = value
    if problems:
        raise UnprocessableEntity(
            problems[0]["message"] if len(problems) == 1 else "表单有多处需要修改",
            code="invalid_form",
            field=problems[0]["field"],
            details=problems,
        )
    return form


def _route_for(material: Material) -> VerificationRoute | None:
    keys = [material.name]
    if material.certificate_type is not None:
        keys.insert(0, material.certificate_type.code)
    for key in keys:
        route = db.session.scalar(
            select(VerificationRoute).where(
                VerificationRoute.active.is_(True),
                (VerificationRoute.code == key) | (VerificationRoute.name == key),
            )
        )
        if route is not None:
            return route
    return None


def _ask_for_verification(
    caller: User, application: ThemeApplication, entry: BundleItem, material: Material
) -> dict[str, Any]:
    """Ask the issuing office on the handling department's behalf; or note an in-house check."""
    route = _route_for(material)
    department_id = entry.item.department_id
    if route is None or route.department_id == department_id:
        return {"status": "department_check", "reason": "由受理部门自行核查,无需提交"}
    person = caller.person
    subject: dict[str, Any] = {"subject_name": person.name}
    if route.subject_kind == "company":
        companies = companies_of(caller)
        if not companies:
            return {"status": "missing", "reason": "未关联企业,无法发起部门协查,需提交此材料"}
        subject = {
            "subject_name": companies[0].name,
            "subject_credit_code": companies[0].credit_code,
        }
    else:
        subject["subject_id_number"] = person_id_number(person)
    request = create_verification_request(
        requesting_department_id=department_id,
        requested_by_id=None,
        proof_type=route.code,
        question=f"请核实申请人的「{material.name}」情况",
        purpose=f"办理「{entry.version.handling_item}」(主题服务申请 {application.id})",
        legal_basis=LEGAL_BASIS,
        related_application_id=f"theme-application-{application.id}",
        **subject,
    )
    return {
        "status": "verification_requested",
        "reason": f"已由受理部门向{route.department.name}发起部门协查",
        "verification_request_id": request.id,
    }


def _materials(
    caller: User,
    application: ThemeApplication,
    entry: BundleItem,
    certificates: dict[str, Certificate],
) -> list[dict[str, Any]]:
    verdicts, _ = exemptions_for(caller, entry.version)
    rows = []
    for material in entry.version.materials:
        verdict = verdicts[material.id]
        type_code = material.certificate_type.code if material.certificate_type else None
        row: dict[str, Any] = {
            "material_id": material.id,
            "name": material.name,
            "certificate_type": type_code,
            "required": material.required,
        }
        basis = material.exemption_basis
        if basis == ExemptionBasis.CERTIFICATE and verdict["status"] == EXEMPT:
            cert = certificates.get(type_code)
            if cert is None:
                row |= {
                    "status": "missing",
                    "reason": "未授权使用该电子证照,请授权后申请或提交此材料",
                }
            else:
                row |= {
                    "status": "attached",
                    "reason": verdict["reason"],
                    "certificate": {"id": cert.id, "serial": cert.serial, "type_code": type_code},
                }
        elif basis == ExemptionBasis.VERIFICATION_REQUEST:
            row |= _ask_for_verification(caller, application, entry, material)
        elif basis == ExemptionBasis.COMMITMENT:
            row |= {"status": "commitment", "reason": verdict["reason"]}
        else:
            row |= {"status": "missing", "reason": verdict["reason"]}
        rows.append(row)
    return rows


@transactional
def submit_application(
    caller: User,
    bundle_id: int,
    values: dict[str, Any],
    consent_id: int | None,
    body_key: str | None,
    header_key: str | None,
) -> tuple[ThemeApplication, bool]:
    """The application and whether it was created now (False: the same key was seen)."""
    require_bound_holder(caller)
    key = _key(body_key, header_key)
    existing = _existing(caller, key)
    if existing is not None:
        return existing, False
    bundle, version = published_bundle(bundle_id)
    consent: ThemeConsent | None = None
    if consent_id is not None:
        # Used up first, before anything is written: a racing submit or withdraw waits for
        # this transaction, and a rollback below gives the consent back.
        try:
            consent = use_consent(caller, bundle, version, consent_id)
        except Conflict as refused:
            winner = _existing(caller, key)  # a concurrent submit with this key used it
            if refused.code != "consent_not_active" or winner is None:
                raise
            return winner, False
    certificates = consented_certificates(caller, consent)
    prefilled = prefilled_values(version, consent, certificates)
    form = checked_form(version, values, prefilled)
    masked_form, sensitive_cipher = sealed_form(version, form)
    items = bundle_items(version)
    if not items:
        raise UnprocessableEntity("该主题服务暂无可办理的事项", code="no_items")
    now = clock.now()
    application = ThemeApplication(
        user_id=caller.id,
        bundle_id=bundle.id,
        version_id=version.id,
        consent_id=consent.id if consent else None,
        idempotency_key=key,
        form_values=masked_form,
        sensitive_cipher=sensitive_cipher,
        prefilled=sorted(prefilled),
        created_at=now,
    )
    try:
        with db.session.begin_nested():
            db.session.add(application)
            db.session.flush()
    except IntegrityError:  # a concurrent submit with the same key won the race
        winner = _existing(caller, key)
        if winner is None:
            raise
        return winner, False
    for position, entry in enumerate(items, start=1):
        part = ThemeApplicationPart(
            application=application,
            position=position,
            service_item_id=entry.item.id,
            item_version_id=entry.version.id,
            department_id=entry.item.department_id,
            state="submitted",
            created_at=now,
            updated_at=now,
        )
        db.session.add(part)
        db.session.flush()
        part.materials = _materials(caller, application, entry, certificates)
        add_event(part, "submitted", caller)
        for officer_id in officer_ids(entry.item.department_id):
            notify(
                officer_id,
                "theme_application",
                "收到主题服务申请",
                f"「{version.title}」中的「{entry.version.handling_item}」有一件新申请待受理。",
                f"/application-parts/{part.id}",
            )
    notify(
        caller.id,
        "theme_application",
        "主题服务申请已提交",
        f"您的「{version.title}」申请已提交,已分送{len(items)}个部门办理。",
        f"/applications/{application.id}",
    )
    db.session.flush()
    return application, True


def list_applications(caller: User) -> list[ThemeApplication]:
    return list(
        db.session.scalars(
            select(ThemeApplication)
            .where(ThemeApplication.user_id == caller.id)
            .order_by(ThemeApplication.id.desc())
        )
    )


def own_application(caller: User, application_id: int) -> ThemeApplication:
    application = db.session.get(ThemeApplication, application_id)
    if application is None or application.user_id != caller.id:
        raise NotFound("申请不存在", code="application_not_found")
    return application
