"""The subject of a verification request: a citizen by ID number or a company by credit code."""

from __future__ import annotations

from sqlalchemy import select

from backend.errors import UnprocessableEntity
from backend.extensions import db
from backend.models import Company, Person
from backend.models.accounts import PERSON_NAME_LENGTH
from backend.security.checksums import is_valid_credit_code
from backend.security.crypto import get_cipher
from backend.services.accounts import check_id_number, find_person, new_person


def subject_hash_of_company(credit_code: str) -> str:
    """Keyed hash naming a company in signed answers (prefixed: never equal to a person's)."""
    return get_cipher().index("credit_code:" + credit_code)


def resolve_subject(
    kind: str, name: str, id_number: str | None, credit_code: str | None
) -> tuple[Person | None, Company | None, str]:
    """The subject person or company (created when new) and its keyed hash."""
    if (id_number is None) == (credit_code is None):
        raise UnprocessableEntity(
            "请提供协查对象的公民身份号码或统一社会信用代码(二选一)",
            code="invalid_subject",
            field="subject",
        )
    if id_number is not None:
        if kind != "person":
            raise UnprocessableEntity(
                "该证明事项的协查对象应为企业,请提供统一社会信用代码",
                code="subject_kind_mismatch",
                field="subject.credit_code",
            )
        number = check_id_number(id_number, field="subject.id_number")
        person = find_person(number)
        if person is None:
            if len(name) > PERSON_NAME_LENGTH:  # the schema allows a company's longer name
                raise UnprocessableEntity(
                    f"姓名过长:不能超过 {PERSON_NAME_LENGTH} 个字符",
                    code="value_too_long",
                    field="subject.name",
                )
            person = new_person(name, number)
            db.session.flush()
        elif person.name != name:
            raise UnprocessableEntity(
                "姓名与公民身份号码不一致", code="identity_mismatch", field="subject.name"
            )
        return person, None, person.id_number_hash
    if kind != "company":
        raise UnprocessableEntity(
            "该证明事项的协查对象应为个人,请提供公民身份号码",
            code="subject_kind_mismatch",
            field="subject.id_number",
        )
    code = (credit_code or "").strip().upper()
    if not is_valid_credit_code(code):
        raise UnprocessableEntity(
            "统一社会信用代码校验未通过,请核对后重新输入",
            code="invalid_credit_code",
            field="subject.credit_code",
        )
    company = db.session.scalar(select(Company).where(Company.credit_code == code))
    if company is None:
        company = Company(name=name, credit_code=code)
        db.session.add(company)
        db.session.flush()
    return None, company, subject_hash_of_company(code)
