"""Certificate types, the public issuance list (发证清单), and department reorganisation.

Who issues a type is its department, followed through ``Department.successor`` when that
department has been reorganised: the successor issues (and seals) from then on, while the
old department's keys keep verifying what it sealed before.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from backend.errors import Conflict, NotFound, UnprocessableEntity
from backend.extensions import db
from backend.models import CertificateType, Department
from backend.models.certificate_types import new_revision
from backend.services.certificate_schema import (
    Problem,
    check_field_schema,
    normalise_field_schema,
    raise_problems,
)
from backend.services.tx import transactional
from backend.validation import parse_day

MAX_SUCCESSION = 20  # guards against a cycle slipping in through bad data


def get_type(code: str) -> CertificateType:
    cert_type = db.session.scalar(
        select(CertificateType)
        .where(CertificateType.code == code)
        .options(joinedload(CertificateType.department))  # the issuer is always needed
    )
    if cert_type is None:
        raise NotFound("证照类型不存在", code="certificate_type_not_found", field="type")
    return cert_type


def list_types() -> list[CertificateType]:
    """Every type, the most used first (unranked last), then by code."""
    types = db.session.scalars(select(CertificateType))
    return sorted(types, key=lambda t: (t.rank is None, t.rank or 0, t.code))


def get_department(code: str, field: str = "department") -> Department:
    department = db.session.scalar(select(Department).where(Department.code == code))
    if department is None:
        raise UnprocessableEntity("部门不存在", code="unknown_department", field=field)
    return department


def department_by_code(code: str) -> Department:
    """A department named in a path: 404 when there is none."""
    department = db.session.scalar(select(Department).where(Department.code == code))
    if department is None:
        raise NotFound("部门不存在", code="department_not_found")
    return department


def current_department(department: Department) -> Department:
    """The department that acts for ``department`` today (itself, or its last successor)."""
    seen = 0
    while department.successor_id is not None and seen < MAX_SUCCESSION:
        department = db.session.get(Department, department.successor_id)
        seen += 1
    return department


def issuing_department(cert_type: CertificateType) -> Department:
    """Who issues and seals new certificates of this type now."""
    return current_department(cert_type.department)


def joint_departments(cert_type: CertificateType) -> list[Department]:
    """The other departments whose seals a certificate of this type needs (joint issuance)."""
    ids = list(cert_type.joint_department_ids or [])
    if not ids:
        return []
    found = {d.id: d for d in db.session.scalars(select(Department).where(Department.id.in_(ids)))}
    return [current_department(found[i]) for i in ids if i in found]


def present_type(cert_type: CertificateType) -> dict[str, Any]:
    issuer = issuing_department(cert_type)
    return {
        "code": cert_type.code,
        "name": cert_type.name,
        "kind": cert_type.kind,
        "holder_kind": cert_type.holder_kind,
        "department": {"code": issuer.code, "name": issuer.name},
        "joint_departments": [
            {"code": d.code, "name": d.name} for d in joint_departments(cert_type)
        ],
        "validity_years": cert_type.validity_years,
        "fields": cert_type.fields,
        "rank": cert_type.rank,
        "issuance": {
            "electronic_since": (
                cert_type.electronic_since.isoformat() if cert_type.electronic_since else None
            ),
            "region": cert_type.region,
            "issuing_cycle_days": cert_type.issuing_cycle_days,
        },
    }


@transactional
def update_type(code: str, changes: dict[str, Any]) -> CertificateType:
    """Edit a type (system administrator). Certificates already issued keep what they signed.

    ``department`` moves the type to another department (takeover); ``joint_departments``
    lists the codes of the departments whose seals are required besides the issuer's.
    """
    cert_type = get_type(code)
    problems: list[Problem] = []
    if "fields" in changes:
        problems += check_field_schema(changes["fields"])
    if "department" in changes:
        department = get_department(changes["department"])
        if not department.active:
            problems.append(Problem("department", "inactive_department", "该部门已撤并"))
        cert_type.department_id = department.id
    if "joint_departments" in changes:
        codes = list(dict.fromkeys(changes["joint_departments"]))
        departments = [get_department(c, "joint_departments") for c in codes]
        cert_type.joint_department_ids = [d.id for d in departments]
    if "electronic_since" in changes:
        value = changes["electronic_since"]
        since = parse_day(value) if value else None
        if value and since is None:
            problems.append(Problem("electronic_since", "invalid_date", "电子化起始日期无效"))
        cert_type.electronic_since = since
    if cert_type.department_id in (cert_type.joint_department_ids or []):
        problems.append(
            Problem("joint_departments", "invalid_value", "联合用印部门不能包含发证部门")
        )
    raise_problems(problems)
    if "fields" in changes:
        cert_type.fields = normalise_field_schema(changes["fields"])
    for key in ("name", "validity_years", "rank", "region", "issuing_cycle_days"):
        if key in changes:
            setattr(cert_type, key, changes[key])
    return cert_type


@transactional
def reorganise_department(code: str, successor_code: str) -> Department:
    """The department is merged into ``successor``: its types and future issuing move there.

    The old department's seal keys are left as they are, so every certificate it sealed
    still verifies; it simply signs nothing new.
    """
    department = department_by_code(code)
    successor = get_department(successor_code, "successor")
    if successor.id == department.id or current_department(successor).id == department.id:
        raise UnprocessableEntity(
            "继任部门不能是本部门或其撤并前身", code="invalid_successor", field="successor"
        )
    if department.successor_id is not None:
        raise Conflict("该部门已撤并", code="already_reorganised")
    department.successor_id = successor.id
    department.active = False
    db.session.execute(
        update(CertificateType)
        .where(CertificateType.department_id == department.id)
        .values(department_id=successor.id)
    )
    # Joint sealing follows successors too: every type gets a new revision, so no worker
    # keeps sealing from a cached profile that names the old department.
    db.session.execute(update(CertificateType).values(revision=new_revision()))
    return department
