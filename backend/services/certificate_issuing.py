"""Issuing, revoking and reissuing certificates; who may do it.

Only officers of a type's issuing department (after a reorganisation: its successor) issue,
revoke or reissue certificates of that type. Data is checked by ``certificate_schema``
before anything is sealed; every problem is reported at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from backend import clock
from backend.errors import Conflict, Forbidden, NotFound, UnprocessableEntity
from backend.extensions import db
from backend.models import (
    Certificate,
    CertificateType,
    Company,
    CompanyRepresentative,
    Department,
    Person,
    Role,
    User,
)
from backend.models.accounts import PERSON_NAME_LENGTH
from backend.security.checksums import normalise_id_number
from backend.services import accounts, issuing_profiles, issuing_writes
from backend.services.certificate_schema import (
    Problem,
    check_certificate_data,
    check_validity,
    raise_problems,
    valid_credit_code,
    valid_id_number,
)
from backend.services.certificate_store import (
    Holder,
    certificate_fields,
    effective_status,
    seal_and_store,
)
from backend.services.certificate_types import (
    issuing_department,
    joint_departments,
)
from backend.services.tx import session_untouched, transactional
from backend.validation import DAY_RANGE_TEXT, parse_moment
from notifications.service import notify

# The fields that repeat the holder's identifier; they must agree with the holder.
HOLDER_ID_FIELDS = {"person": "公民身份号码", "company": "统一社会信用代码"}
MAX_HOLDER_NAME = {"person": PERSON_NAME_LENGTH, "company": 200}  # the persons / companies columns


def authorise_issuer(officer: User | None, cert_type: CertificateType) -> Department:
    """The department that issues this type now; 403 unless ``officer`` belongs to it.

    ``officer`` None is the system itself (seed, command line).
    """
    department = issuing_department(cert_type)
    if officer is not None and (
        officer.role != Role.DEPARTMENT_OFFICER or officer.department_id != department.id
    ):
        raise Forbidden("只有发证部门的工作人员可以办理该类证照", code="forbidden")
    return department


def parse_paper_issued_at(value: Any) -> tuple[datetime | None, Problem | None]:
    """ISO date or date-time (no zone: Asia/Shanghai), within the platform's date range
    (``parse_moment``), not in the future."""
    if value is None or value == "":
        return None, None
    parsed = parse_moment(value)
    if parsed is None:
        return None, Problem(
            "paper_issued_at",
            "invalid_datetime",
            f"纸质证照发证时间无效,应为 {DAY_RANGE_TEXT} 之间的日期或日期时间(ISO 8601)",
        )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=clock.SHANGHAI)
    if parsed > clock.now():
        return None, Problem("paper_issued_at", "issued_in_future", "纸质证照发证时间不能晚于现在")
    return parsed, None


def check_holder(cert_type: CertificateType, holder: dict[str, Any]) -> list[Problem]:
    """The holder has a name and the identifier the type's holder kind needs, valid."""
    problems = []
    name = (holder.get("name") or "").strip()
    if not name:
        problems.append(Problem("holder.name", "missing_field", "缺少持证人名称"))
    elif len(name) > MAX_HOLDER_NAME[cert_type.holder_kind]:
        problems.append(Problem("holder.name", "value_too_long", "持证人名称过长"))
    return problems + _check_holder_identifier(cert_type, holder)


def _check_holder_identifier(cert_type: CertificateType, holder: dict[str, Any]) -> list[Problem]:
    if cert_type.holder_kind == "person":
        key, other, valid = "id_number", "credit_code", valid_id_number
        value = normalise_id_number(holder.get(key) or "")
    else:
        key, other, valid = "credit_code", "id_number", valid_credit_code
        value = (holder.get(key) or "").strip().upper()
    if holder.get(other):
        kind = "个人" if cert_type.holder_kind == "person" else "企业"
        return [Problem(f"holder.{other}", "holder_kind_mismatch", f"该类证照的持证人应为{kind}")]
    if not value:
        return [Problem(f"holder.{key}", "missing_field", f"缺少必填字段:holder.{key}")]
    if not valid(value):
        code = "invalid_id_number" if key == "id_number" else "invalid_credit_code"
        label = "公民身份号码" if key == "id_number" else "统一社会信用代码"
        return [Problem(f"holder.{key}", code, f"持证人{label}校验未通过")]
    return []


def holder_identifier(cert_type: CertificateType, holder: dict[str, Any]) -> str:
    if cert_type.holder_kind == "person":
        return normalise_id_number(holder["id_number"])
    return holder["credit_code"].strip().upper()


def check_holder_fields(
    cert_type: CertificateType, identifier: str, cleaned: dict[str, Any]
) -> list[Problem]:
    """A field that repeats the holder's identifier must repeat it exactly."""
    name = HOLDER_ID_FIELDS[cert_type.holder_kind]
    if name in cleaned and cleaned[name] != identifier:
        return [Problem(name, "holder_mismatch", f"{name}与持证人不一致")]
    return []


def get_or_create_company(name: str, credit_code: str) -> Company:
    company = db.session.scalar(select(Company).where(Company.credit_code == credit_code))
    if company is None:
        company = Company(name=name, credit_code=credit_code)
        db.session.add(company)
        db.session.flush()
    return company


def resolve_holder(cert_type: CertificateType, identifier: str, name: str) -> Holder:
    """The person or company, created when new (ID numbers go in encrypted)."""
    if cert_type.holder_kind == "person":
        return accounts.get_or_create_person(name, identifier)
    return get_or_create_company(name, identifier)


def issue_certificate(
    *,
    officer: User | None,
    cert_type: CertificateType | str,
    holder: dict[str, Any],
    fields: Any,
    issued_on: Any = None,
    expires_on: Any = None,
    paper_issued_at: Any = None,
) -> Certificate:
    """Validate, seal with the issuing (and any joint) departments' keys, and store.

    ``holder`` is ``{"name", "id_number"}`` for a person or ``{"name", "credit_code"}``
    for a company; a new holder is created. Dates are ISO strings (or dates).

    The type, its issuer and the signing keys come from this worker's cache
    (``issuing_profiles``); the statement that stores the certificate checks the cache is
    still true, and a stale profile, or a refusal based on one, is re-read and tried again.
    A call that is its own transaction, with the profile cached, is one statement in
    autocommit (``issuing_writes.store_autocommit``); anything else goes through the session.
    """
    code = cert_type if isinstance(cert_type, str) else cert_type.code
    args = (officer, holder, fields, issued_on, expires_on, paper_issued_at)
    # Decided outside the transaction: only a call that is its own transaction goes fast.
    fast = issuing_writes.fast_path_usable()
    profile = issuing_profiles.cached(code) if fast else None
    if profile is not None:
        try:
            data = _checked_issue_data(profile, *args)
        except (Forbidden, UnprocessableEntity):
            return _issue(fast, code, args, fresh=True)  # the refusal may come from a stale profile
        # Asked after validating: refreshing an expired officer begins a session transaction.
        if session_untouched():
            certificate = issuing_writes.store_autocommit(profile, data)
            # None: the profile was stale and nothing was written.
            return certificate or _issue(fast, code, args, fresh=True)
    return _issue(fast, code, args, fresh=False)


@transactional
def _issue(fast: bool, code: str, args: tuple, *, fresh: bool) -> Certificate:
    """``fresh``: read the profile in this transaction from the start."""
    while True:
        profile = issuing_profiles.get(code, fresh=fresh)
        try:
            data = _checked_issue_data(profile, *args)
        except (Forbidden, UnprocessableEntity):
            if fresh:
                raise
            fresh = True  # the refusal may come from a stale profile: decide on a fresh one
            continue
        certificate = issuing_writes.store(profile, data, fast=fast, checked=fresh)
        if certificate is not None:
            return certificate
        if fresh:  # read in this very transaction: cannot be stale
            raise RuntimeError("issuing profile check failed on a fresh profile")
        fresh = True


def _checked_issue_data(
    profile: issuing_profiles.IssuingProfile,
    officer: User | None,
    holder: dict[str, Any],
    fields: Any,
    issued_on: Any,
    expires_on: Any,
    paper_issued_at: Any,
) -> issuing_writes.IssueData:
    """Who may issue, then every problem with the data at once (422)."""
    if officer is not None and (
        officer.role != Role.DEPARTMENT_OFFICER or officer.department_id != profile.issuer.id
    ):
        raise Forbidden("只有发证部门的工作人员可以办理该类证照", code="forbidden")
    problems = check_holder(profile, holder)
    cleaned, field_problems = check_certificate_data(profile, fields)
    problems += field_problems
    issued, expires, date_problems = check_validity(profile, cleaned, issued_on, expires_on)
    problems += date_problems
    paper_at, paper_problem = parse_paper_issued_at(paper_issued_at)
    if paper_problem:
        problems.append(paper_problem)
    if not problems:
        problems += check_holder_fields(profile, holder_identifier(profile, holder), cleaned)
    raise_problems(problems)
    return issuing_writes.IssueData(
        holder_kind=profile.holder_kind,
        identifier=holder_identifier(profile, holder),
        holder_name=holder["name"].strip(),
        fields=cleaned,
        issued_on=issued,
        expires_on=expires,
        paper_issued_at=paper_at,
        issued_by_id=officer.id if officer else None,
    )


def get_certificate(certificate_id: int) -> Certificate:
    certificate = db.session.get(Certificate, certificate_id)
    if certificate is None:
        raise NotFound("证照不存在", code="certificate_not_found")
    return certificate


def holder_user_ids(certificate: Certificate) -> list[int]:
    """Accounts that see this certificate as theirs (the person, or company representatives)."""
    if certificate.holder_person_id is not None:
        query = select(User.id).where(User.person_id == certificate.holder_person_id)
    else:
        query = select(CompanyRepresentative.user_id).where(
            CompanyRepresentative.company_id == certificate.holder_company_id
        )
    return list(db.session.scalars(query))


def _notify_holders(certificate: Certificate, title: str, body: str) -> None:
    for user_id in holder_user_ids(certificate):
        notify(user_id, "certificate", title, body, link=f"/certificates/{certificate.id}")


@transactional
def revoke_certificate(officer: User | None, certificate_id: int, reason: str) -> Certificate:
    """Revoke with a reason; the holder is told. A revoked certificate never verifies as valid."""
    certificate = get_certificate(certificate_id)
    authorise_issuer(officer, certificate.type)
    reason = reason.strip()
    if not reason:
        raise UnprocessableEntity("请填写吊销原因", code="missing_field", field="reason")
    _leave_valid_state(
        certificate,
        "该证照已吊销或已被新版本替代",
        status="revoked",
        revoked_at=clock.now(),
        revocation_reason=reason[:200],
    )
    _notify_holders(
        certificate, "电子证照已吊销", f"您的{certificate.type.name}已被吊销。原因:{reason}"
    )
    return certificate


@transactional
def reissue_certificate(
    officer: User | None,
    certificate_id: int,
    *,
    fields: dict[str, Any] | None = None,
    issued_on: Any = None,
    expires_on: Any = None,
) -> Certificate:
    """A new version (new serial, fresh seals) that supersedes the old one.

    ``fields`` are changes merged over the old version's fields (``null`` removes one);
    the result is validated like a new certificate. Expired certificates may be reissued
    (renewal); revoked or already superseded ones may not.
    """
    old = get_certificate(certificate_id)
    cert_type = old.type
    department = authorise_issuer(officer, cert_type)
    if old.status != "valid":
        _refuse_state(old, "只有有效或已过期的证照可以换发")
    merged = dict(certificate_fields(old))
    merged.update(fields or {})
    cleaned, problems = check_certificate_data(cert_type, merged)
    if issued_on is None and expires_on is None and effective_status(old) == "valid":
        # A correction keeps the validity period unless new dates are given.
        issued_on, expires_on = old.issued_on.isoformat(), old.expires_on
    issued, expires, date_problems = check_validity(cert_type, cleaned, issued_on, expires_on)
    holder = old_holder(old)
    identifier = (
        accounts.person_id_number(holder) if isinstance(holder, Person) else holder.credit_code
    )
    problems += date_problems
    if not problems:
        problems += check_holder_fields(cert_type, identifier, cleaned)
    raise_problems(problems)
    _leave_valid_state(old, "只有有效或已过期的证照可以换发", status="superseded")
    new = seal_and_store(
        cert_type=cert_type,
        department=department,
        holder=holder,
        fields=cleaned,
        issued_on=issued,
        expires_on=expires,
        sealing_departments=joint_departments(cert_type),
        version=old.version + 1,
        supersedes=old,
        issued_by_id=officer.id if officer else None,
    )
    _notify_holders(new, "电子证照已换发", f"您的{cert_type.name}已换发新版本。")
    return new


def _refuse_state(certificate: Certificate, message: str) -> None:
    raise Conflict(message, code="invalid_state", current_state=certificate.status)


def _leave_valid_state(certificate: Certificate, message: str, **values: Any) -> None:
    """Move a valid certificate to another state, atomically: of two racing calls one wins."""
    result = db.session.execute(
        update(Certificate)
        .where(Certificate.id == certificate.id, Certificate.status == "valid")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(certificate)
    if result.rowcount != 1:
        _refuse_state(certificate, message)


def old_holder(certificate: Certificate) -> Holder:
    if certificate.holder_person_id is not None:
        return db.session.get(Person, certificate.holder_person_id)
    return db.session.get(Company, certificate.holder_company_id)
