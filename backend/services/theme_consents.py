"""Consent first: which certificates and fields a bundle would use, the holder's agreement,
and the pre-filled form that only a recorded, active consent unlocks.

No certificate payload is decrypted here without an active consent of the caller for the
bundle's current version; the preview only names certificates and fields.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from backend import clock
from backend.errors import Conflict, Forbidden, NotFound
from backend.extensions import db
from backend.models import Certificate, Role, User
from backend.models.service_items import ExemptionBasis
from backend.models.themes import ThemeBundle, ThemeBundleVersion, ThemeConsent
from backend.services import certificate_store
from backend.services.themes import BundleItem, bundle_items, published_bundle
from backend.services.tx import transactional

HOLDER_ROLES = (Role.CITIZEN, Role.COMPANY_REPRESENTATIVE)
CONSENT_STATE_LABELS = {"active": "有效", "withdrawn": "已撤回", "used": "已用于提交申请"}


def require_bound_holder(caller: User) -> None:
    if caller.role not in HOLDER_ROLES:
        raise Forbidden("只有市民或企业代表可以办理主题服务", code="forbidden")
    if caller.person_id is None:
        raise Forbidden("请先完成实名认证", code="not_real_name_bound")


def _needed_types(version: ThemeBundleVersion, items: list[BundleItem]) -> dict[str, dict]:
    """type code -> the form labels and material names it would serve."""
    needed: dict[str, dict[str, list[str]]] = {}
    for field in version.form_fields:
        if field["source"]:
            code, _, name = field["source"].partition(".")
            entry = needed.setdefault(code, {"fields": [], "form_labels": [], "materials": []})
            entry["fields"].append(name)
            entry["form_labels"].append(field["label"])
    for entry in items:
        for material in entry.version.materials:
            if (
                material.exemption_basis == ExemptionBasis.CERTIFICATE
                and material.certificate_type is not None
            ):
                row = needed.setdefault(
                    material.certificate_type.code,
                    {"fields": [], "form_labels": [], "materials": []},
                )
                if material.name not in row["materials"]:
                    row["materials"].append(material.name)
    return needed


def chosen_certificates(user: User, type_codes) -> dict[str, Certificate]:
    """For each type, the holder's first valid certificate (personal before company)."""
    person_id, company_ids = certificate_store.holder_ids(user)
    chosen: dict[str, Certificate] = {}
    for cert in certificate_store.valid_certificates_of(person_id, company_ids, list(type_codes)):
        chosen.setdefault(cert.type.code, cert)
    return chosen


def consent_preview(caller: User, bundle_id: int) -> dict[str, Any]:
    """What a consent would cover: certificates by id and serial, field names; no values."""
    require_bound_holder(caller)
    bundle, version = published_bundle(bundle_id)
    needed = _needed_types(version, bundle_items(version))
    chosen = chosen_certificates(caller, needed)
    certificates = [
        {
            "id": cert.id,
            "serial": cert.serial,
            "type_code": code,
            "type_name": cert.type.name,
            "fields": needed[code]["fields"],
            "form_labels": needed[code]["form_labels"],
            "materials": needed[code]["materials"],
        }
        for code, cert in chosen.items()
    ]
    not_held = sorted(code for code in needed if code not in chosen)
    return {
        "bundle": bundle,
        "version": version,
        "certificates": certificates,
        "not_held": not_held,
    }


@transactional
def give_consent(caller: User, bundle_id: int) -> ThemeConsent:
    """Record the holder's agreement to exactly what the preview shows now."""
    preview = consent_preview(caller, bundle_id)
    consent = ThemeConsent(
        user_id=caller.id,
        bundle_id=preview["bundle"].id,
        version_id=preview["version"].id,
        certificate_ids=[c["id"] for c in preview["certificates"]],
        fields=[
            f"{c['type_code']}.{name}" for c in preview["certificates"] for name in c["fields"]
        ],
        state="active",
        created_at=clock.now(),
    )
    db.session.add(consent)
    db.session.flush()
    return consent


def own_consent(caller: User, consent_id: int) -> ThemeConsent:
    consent = db.session.scalar(select(ThemeConsent).where(ThemeConsent.id == consent_id))
    if consent is None or consent.user_id != caller.id:
        raise NotFound("授权记录不存在", code="consent_not_found", field="consent_id")
    return consent


def _leave_active(consent: ThemeConsent, state: str, **stamps: Any) -> bool:
    """Move the consent from ``active`` to ``state`` only if the row still is active:
    compare-and-set in the database, so of a submit and a withdraw (or two submits) racing
    for one consent exactly one wins. False (the consent reloaded) when it already left."""
    moved = db.session.execute(
        update(ThemeConsent)
        .where(ThemeConsent.id == consent.id, ThemeConsent.state == "active")
        .values(state=state, **stamps)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount == 1:
        for name, value in {"state": state, **stamps}.items():
            set_committed_value(consent, name, value)
        return True
    db.session.refresh(consent)
    return False


def list_consents(caller: User) -> list[ThemeConsent]:
    return list(
        db.session.scalars(
            select(ThemeConsent)
            .where(ThemeConsent.user_id == caller.id)
            .order_by(ThemeConsent.id.desc())
        )
    )


@transactional
def withdraw_consent(caller: User, consent_id: int) -> ThemeConsent:
    """Withdraw a consent no submitted application used; a used one stands as the record."""
    consent = own_consent(caller, consent_id)
    if consent.state != "active" or not _leave_active(
        consent, "withdrawn", withdrawn_at=clock.now()
    ):
        raise Conflict(
            f"授权当前状态为「{CONSENT_STATE_LABELS[consent.state]}」,不能撤回",
            code="invalid_state",
            current_state=consent.state,
        )
    return consent


def _not_active(consent: ThemeConsent) -> Conflict:
    return Conflict(
        f"授权当前状态为「{CONSENT_STATE_LABELS[consent.state]}」,请重新授权",
        code="consent_not_active",
        field="consent_id",
        current_state=consent.state,
    )


def usable_consent(
    caller: User, bundle: ThemeBundle, version: ThemeBundleVersion, consent_id: int
) -> ThemeConsent:
    """The caller's active consent for this bundle's current version, or why not."""
    consent = own_consent(caller, consent_id)
    if consent.bundle_id != bundle.id:
        raise Conflict("该授权不是针对此主题服务的", code="consent_mismatch", field="consent_id")
    if consent.state != "active":
        raise _not_active(consent)
    if consent.version_id != version.id:
        raise Conflict("主题服务已更新,请重新确认授权", code="consent_outdated", field="consent_id")
    return consent


def use_consent(
    caller: User, bundle: ThemeBundle, version: ThemeBundleVersion, consent_id: int
) -> ThemeConsent:
    """The usable consent, marked used at once inside the caller's transaction (single use:
    the application and this mark commit together or not at all). A concurrent submit or
    withdraw that got there first makes this 409 ``consent_not_active``."""
    consent = usable_consent(caller, bundle, version, consent_id)
    if not _leave_active(consent, "used", used_at=clock.now()):
        raise _not_active(consent)
    return consent


def consented_certificates(caller: User, consent: ThemeConsent | None) -> dict[str, Certificate]:
    """Type code -> consented certificate still valid today; empty without consent."""
    if consent is None:
        return {}
    chosen = chosen_certificates(caller, _consented_types(consent))
    allowed = set(consent.certificate_ids)
    return {code: cert for code, cert in chosen.items() if cert.id in allowed}


def _consented_types(consent: ThemeConsent) -> set[str]:
    types = {
        c.type.code
        for c in db.session.scalars(
            select(Certificate).where(Certificate.id.in_(consent.certificate_ids))
        )
    }
    return types


def prefilled_values(
    version: ThemeBundleVersion, consent: ThemeConsent | None, certificates: dict[str, Certificate]
) -> dict[str, Any]:
    """label -> value read from consented certificates (only consented fields, only
    certificates whose seals verify: a tampered one fills nothing)."""
    if consent is None:
        return {}
    allowed = set(consent.fields)
    payloads: dict[str, dict[str, Any]] = {}
    values: dict[str, Any] = {}
    for field in version.form_fields:
        source = field["source"]
        if not source or source not in allowed:
            continue
        code, _, name = source.partition(".")
        cert = certificates.get(code)
        if cert is None:
            continue
        if code not in payloads:
            # Only a certificate whose seals still verify may fill a form.
            check = certificate_store.verify_certificate(cert)
            payloads[code] = certificate_store.certificate_fields(cert) if check.ok else {}
        value = payloads[code].get(name)
        if value not in (None, ""):
            values[field["label"]] = value
    return values


def prefill(caller: User, bundle_id: int, consent_id: int) -> dict[str, Any]:
    """The unified form with what the consented certificates fill in."""
    require_bound_holder(caller)
    bundle, version = published_bundle(bundle_id)
    consent = usable_consent(caller, bundle, version, consent_id)
    certificates = consented_certificates(caller, consent)
    values = prefilled_values(version, consent, certificates)
    fields = []
    for field in version.form_fields:
        code = field["source"].partition(".")[0] if field["source"] else None
        filled = field["label"] in values
        fields.append(
            {
                **field,
                "value": values.get(field["label"]),
                "prefilled": filled,
                "certificate": (
                    {"id": certificates[code].id, "serial": certificates[code].serial}
                    if filled
                    else None
                ),
            }
        )
    return {"bundle": bundle, "version": version, "consent": consent, "fields": fields}
