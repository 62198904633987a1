"""What holders (and issuing officers) see of a certificate; ID numbers masked here, once.

Holder endpoints answer 404 ``certificate_not_found`` for a certificate the caller does not
hold, whether or not it exists, so its existence is not revealed to anyone else.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select

from backend import clock
from backend.errors import NotFound
from backend.extensions import db
from backend.models import Certificate, CertificateType, Company, Department, Person, User
from backend.security.crypto import mask_id_number
from backend.services.accounts import person_id_number
from backend.services.certificate_store import (
    effective_status,
    holder_filter,
    holder_ids,
    read_payload,
    verify_certificate,
)
from backend.services.certificate_types import issuing_department

STATUSES = ("valid", "expired", "revoked", "superseded")


class Viewer:
    """Whose eyes: the person holder sees their ID numbers; everyone else sees them masked."""

    def __init__(self, person_id: int | None = None, own_id_number: str | None = None) -> None:
        self.person_id = person_id
        self.own_id_number = own_id_number

    @classmethod
    def of(cls, user: User | None) -> Viewer:
        if user is None or user.person is None:
            return cls()
        return cls(user.person_id, person_id_number(user.person))

    def sees(self, certificate: Certificate, id_number: str) -> bool:
        if self.person_id is not None and certificate.holder_person_id == self.person_id:
            return True
        return self.own_id_number is not None and id_number == self.own_id_number


OFFICER_VIEW = Viewer()


def _department(department_id: int) -> dict[str, str]:
    department = db.session.get(Department, department_id)
    return {"code": department.code, "name": department.name}


def present_certificate(
    certificate: Certificate, viewer: Viewer = OFFICER_VIEW, *, detail: bool = False
) -> dict[str, Any]:
    """A certificate for a caller; ``detail`` adds its fields and re-verifies its seals."""
    cert_type = certificate.type
    data: dict[str, Any] = {
        "id": certificate.id,
        "serial": certificate.serial,
        "type": {"code": cert_type.code, "name": cert_type.name, "kind": cert_type.kind},
        "issuer": _department(certificate.department_id),
        "status": effective_status(certificate),
        "issued_on": certificate.issued_on.isoformat(),
        "expires_on": certificate.expires_on.isoformat() if certificate.expires_on else None,
        "version": certificate.version,
        "supersedes_id": certificate.supersedes_id,
        "source": certificate.source,
        "paper_issued_at": clock.to_local(certificate.paper_issued_at),
        "electronic_issued_at": clock.to_local(certificate.electronic_issued_at),
        "revoked_at": clock.to_local(certificate.revoked_at),
        "revocation_reason": certificate.revocation_reason,
        "holder": _present_holder(certificate, viewer),
    }
    if detail:
        data.update(_detail(certificate, viewer))
    return data


def _present_holder(certificate: Certificate, viewer: Viewer) -> dict[str, Any]:
    if certificate.holder_person_id is not None:
        person = db.session.get(Person, certificate.holder_person_id)
        id_number = person_id_number(person)
        shown = id_number if viewer.sees(certificate, id_number) else mask_id_number(id_number)
        return {"kind": "person", "name": person.name, "id_number": shown}
    company = db.session.get(Company, certificate.holder_company_id)
    return {"kind": "company", "name": company.name, "credit_code": company.credit_code}


def _detail(certificate: Certificate, viewer: Viewer) -> dict[str, Any]:
    check = verify_certificate(certificate)
    specs = {f["name"]: f for f in certificate.type.fields}
    payload = read_payload(certificate) if check.reason != "payload_unreadable" else None
    values = payload["fields"] if payload else {}
    holder_id = payload["holder"]["id"] if payload else None
    fields = []
    for name, value in values.items():
        kind = specs.get(name, {}).get("type", "text")
        # Text fields can repeat an ID number too (a driving licence's number is one).
        is_id = kind == "id_number" or (value == holder_id and kind == "text")
        if is_id and not viewer.sees(certificate, value):
            value = mask_id_number(value)
        fields.append({"name": name, "type": kind, "value": value})
    order = list(specs)
    fields.sort(key=lambda f: order.index(f["name"]) if f["name"] in order else len(order))
    seal_checks = {c.key_id: c for c in check.seals}
    current_issuer = issuing_department(certificate.type)
    return {
        "fields": fields,
        "seals": [
            {
                "department": _department(seal.department_id),
                "key_id": seal.key_id,
                "algorithm": seal.algorithm,
                "verified": seal_checks[seal.key_id].ok if seal.key_id in seal_checks else False,
                "reason": seal_checks[seal.key_id].reason if seal.key_id in seal_checks else None,
            }
            for seal in certificate.seals
        ],
        "verified": check.ok,
        "verification": check.reason,
        # Who answers for this certificate now (differs from ``issuer`` after a reorganisation).
        "current_issuer": {"code": current_issuer.code, "name": current_issuer.name},
    }


def _status_filter(status: str):
    today = clock.now().astimezone(clock.SHANGHAI).date()
    not_expired = or_(Certificate.expires_on.is_(None), Certificate.expires_on >= today)
    if status == "valid":
        return (Certificate.status == "valid") & not_expired
    if status == "expired":
        return (Certificate.status == "valid") & ~not_expired
    return Certificate.status == status


def list_for_holder(
    user: User,
    *,
    status: str | None = None,
    type_code: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> dict[str, Any]:
    """The caller's certificates and those of companies they represent (not superseded
    versions unless asked for with ``status=superseded``), newest first."""
    person_id, company_ids = holder_ids(user)
    where = holder_filter(person_id, company_ids)
    if where is None:
        return {"items": [], "total": 0, "page": page, "per_page": per_page}
    query = select(Certificate).where(where)
    query = query.where(_status_filter(status) if status else Certificate.status != "superseded")
    if type_code:
        query = query.join(CertificateType).where(CertificateType.code == type_code)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(
        query.order_by(Certificate.issued_on.desc(), Certificate.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    viewer = Viewer.of(user)
    return {
        "items": [present_certificate(c, viewer) for c in rows],
        "total": total,
        "page": page,
        "per_page": per_page,
    }


def _acting_for(department_id: int) -> list[int]:
    """The department and every reorganised one it now acts for (their certificates too)."""
    departments = db.session.scalars(select(Department)).all()
    by_id = {d.id: d for d in departments}

    def current(d: Department) -> int:
        seen = 0
        while d.successor_id is not None and d.successor_id in by_id and seen < 20:
            d, seen = by_id[d.successor_id], seen + 1
        return d.id

    return [d.id for d in departments if current(d) == department_id]


def list_for_department(
    officer: User,
    *,
    status: str | None = None,
    type_code: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> dict[str, Any]:
    """Certificates the officer's department issued (and those of departments it took over),
    newest first; superseded versions only with ``status=superseded``; ID numbers masked."""
    query = select(Certificate).where(
        Certificate.department_id.in_(_acting_for(officer.department_id))
    )
    query = query.where(_status_filter(status) if status else Certificate.status != "superseded")
    if type_code:
        query = query.join(CertificateType).where(CertificateType.code == type_code)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(
        query.order_by(Certificate.electronic_issued_at.desc(), Certificate.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return {
        "items": [present_certificate(c, OFFICER_VIEW) for c in rows],
        "total": total,
        "page": page,
        "per_page": per_page,
    }


def get_for_holder(user: User, certificate_id: int) -> Certificate:
    """The certificate when the caller holds it (personally or for a company), else 404."""
    certificate = db.session.get(Certificate, certificate_id)
    person_id, company_ids = holder_ids(user)
    held = certificate is not None and (
        (person_id is not None and certificate.holder_person_id == person_id)
        or (
            certificate.holder_company_id is not None
            and certificate.holder_company_id in company_ids
        )
    )
    if not held:
        raise NotFound("证照不存在", code="certificate_not_found")
    return certificate


def present_for_holder(user: User, certificate_id: int) -> dict[str, Any]:
    return present_certificate(get_for_holder(user, certificate_id), Viewer.of(user), detail=True)
