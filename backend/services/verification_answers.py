"""Signed answers: the seal over an answer, its check, reuse, and a certificate issued with it.

An answer is signed with the responding department's seal over canonical JSON that names
the subject only by its keyed hash, so the stored answer is itself a proof: a later request
for the same subject, proof type and question is answered from it while it is valid.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select

from backend.errors import UnprocessableEntity
from backend.extensions import db
from backend.models import Certificate, CertificateType, Company, Department, Person
from backend.models.verification import VerificationRequest
from backend.security.checksums import (
    is_valid_credit_code,
    is_valid_id_number,
    normalise_id_number,
)
from backend.services import seals
from backend.services.accounts import person_id_number
from backend.services.certificate_store import seal_and_store
from backend.validation import DAY_RANGE_TEXT, parse_day

_SPACE = re.compile(r"\s+")
REUSE_CANDIDATES = 5


def normalise_question(question: str) -> str:
    """Trimmed, inner whitespace collapsed: how questions are stored, compared and signed."""
    return _SPACE.sub(" ", question).strip()


def question_digest(question: str) -> str:
    return hashlib.sha256(normalise_question(question).encode("utf-8")).hexdigest()


def _utc(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else None


def answer_document(request: VerificationRequest) -> dict[str, Any]:
    """What the seal covers. No plain ID number: the subject is named by its keyed hash."""
    return {
        "request_id": request.id,
        "department": request.responding_department.code,
        "subject_hash": request.subject_hash,
        "proof_type": request.proof_type,
        "question": request.question,
        "result": request.result,
        "answer": request.answer,
        "answered_at": _utc(request.answered_at),
        "valid_until": _utc(request.valid_until),
        "certificate": request.certificate.serial if request.certificate else None,
    }


def seal_answer(request: VerificationRequest, department: Department) -> None:
    """Sign the answer with the department's current seal key and store the signature."""
    signature = seals.sign(department, seals.canonical_json(answer_document(request)))
    request.seal_key_id = signature.key_id
    request.seal_algorithm = signature.algorithm
    request.seal_signature = signature.value


@dataclass(frozen=True)
class AnswerCheck:
    ok: bool
    reason: str  # ok | not_answered | unsigned | copy_mismatch | a seal reason
    key_id: str | None = None


def verify_answer(request: VerificationRequest) -> AnswerCheck:
    """Re-check a stored answer against the trust list: any changed field fails.

    An answer given from an earlier one is checked through that earlier, signed answer.
    """
    if request.state != "answered" or request.result is None:
        return AnswerCheck(False, "not_answered")
    source = request.answered_from
    if source is not None:
        same = (request.result, request.answer, request.valid_until) == (
            source.result,
            source.answer,
            source.valid_until,
        )
        if not same:
            return AnswerCheck(False, "copy_mismatch", source.seal_key_id)
        return verify_answer(source)
    if request.seal_signature is None or request.seal_key_id is None:
        return AnswerCheck(False, "unsigned")
    check = seals.verify(
        request.seal_key_id,
        seals.canonical_json(answer_document(request)),
        bytes(request.seal_signature),
    )
    return AnswerCheck(check.ok, check.reason, check.key_id)


def find_reusable_answer(request: VerificationRequest, now: datetime) -> VerificationRequest | None:
    """A still-valid, confirmed, signed answer to the same question about the same subject.

    Only confirmed answers stand as proofs: a "not confirmed" may change any day (the
    citizen enrols, pays, registers), so that question is always asked afresh.
    """
    candidates = db.session.scalars(
        select(VerificationRequest)
        .where(
            VerificationRequest.subject_hash == request.subject_hash,
            VerificationRequest.proof_type == request.proof_type,
            VerificationRequest.question_digest == request.question_digest,
            VerificationRequest.state == "answered",
            VerificationRequest.result == "confirmed",
            VerificationRequest.answered_from_id.is_(None),
            VerificationRequest.valid_until > now,
            VerificationRequest.id != request.id,
        )
        .order_by(VerificationRequest.answered_at.desc(), VerificationRequest.id.desc())
        .limit(REUSE_CANDIDATES)
    )
    for candidate in candidates:
        if verify_answer(candidate).ok:  # a revoked seal no longer proves anything
            return candidate
    return None


def copy_answer(request: VerificationRequest, source: VerificationRequest, now: datetime) -> None:
    request.state = "answered"
    request.result = source.result
    request.answer = source.answer
    request.valid_until = source.valid_until
    request.answered_at = now
    request.closed_at = now
    request.answered_from_id = source.id
    request.certificate_id = source.certificate_id


# --- a certificate issued with the answer ----------------------------------------------------


def _bad(field: str, message: str, code: str = "invalid_certificate_field") -> UnprocessableEntity:
    return UnprocessableEntity(message, code=code, field=f"certificate.fields.{field}")


def _check_value(spec: dict[str, Any], value: Any) -> Any:
    name, kind = spec["name"], spec["type"]
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _bad(name, f"{name} 应为数字")
        return value
    if not isinstance(value, str) or not value.strip():
        raise _bad(name, f"{name} 不能为空", "missing_field")
    value = value.strip()
    if kind == "id_number":
        value = normalise_id_number(value)
        if not is_valid_id_number(value):
            raise _bad(name, "公民身份号码校验未通过", "invalid_id_number")
    elif kind == "credit_code":
        value = value.upper()
        if not is_valid_credit_code(value):
            raise _bad(name, "统一社会信用代码校验未通过", "invalid_credit_code")
    elif kind == "date":
        if parse_day(value) is None:
            raise _bad(name, f"{name} 应为 {DAY_RANGE_TEXT} 之间 YYYY-MM-DD 格式的日期")
    elif kind == "enum" and value not in spec.get("options", []):
        raise _bad(name, f"{name} 的取值不在可选范围内")
    elif len(value) > int(spec.get("max_length", 200)):
        raise _bad(name, f"{name} 过长")
    return value


def certificate_fields(
    cert_type: CertificateType, holder: Person | Company, given: dict[str, Any], today: date
) -> dict[str, Any]:
    """The certificate's fields: the officer's values, the holder's identity filled in.

    A small check against the type's field schema (the certificate issuing service owns the
    full rules); the holder's ID number or credit code always comes from the request.
    """
    names = cert_type.field_names()
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise _bad(unknown[0], f"证照类型没有该字段:{unknown[0]}", "unknown_field")
    fields: dict[str, Any] = {}
    for spec in cert_type.fields:
        name, kind = spec["name"], spec["type"]
        if kind == "id_number" and isinstance(holder, Person) and name == "公民身份号码":
            value: Any = person_id_number(holder)
        elif kind == "credit_code" and isinstance(holder, Company):
            value = holder.credit_code
        elif name in given:
            value = given[name]
        elif name in ("姓名", "名称", "纳税人名称", "单位名称", "企业名称"):
            value = holder.name
        elif name == "出具日期":
            value = today.isoformat()
        elif spec.get("required", True):
            raise _bad(name, f"缺少证照字段:{name}", "missing_field")
        else:
            continue
        fields[name] = _check_value(spec, value)
    return fields


def issue_with_answer(
    request: VerificationRequest,
    holder: Person | Company,
    given: dict[str, Any],
    expires_on: date | None,
    today: date,
) -> Certificate:
    """Issue the proof-type certificate the answer confirms, sealed by the responding department."""
    cert_type = request.route.certificate_type
    if request.result != "confirmed":
        raise UnprocessableEntity(
            "只有核实属实的答复才能同时出具证明",
            code="certificate_not_confirmed",
            field="certificate",
        )
    if cert_type is None or cert_type.department_id != request.responding_department_id:
        raise UnprocessableEntity(
            "该证明事项没有可由本部门出具的电子证照类型",
            code="certificate_not_available",
            field="certificate",
        )
    if expires_on is not None and expires_on < today:
        raise UnprocessableEntity(
            "有效期不能早于今天", code="invalid_date", field="certificate.expires_on"
        )
    fields = certificate_fields(cert_type, holder, given, today)
    return seal_and_store(
        cert_type=cert_type,
        department=request.responding_department,
        holder=holder,
        fields=fields,
        issued_on=today,
        expires_on=expires_on,
    )
