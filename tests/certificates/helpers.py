"""Certificate test data: types with every field kind, officers, request bodies, CSV files."""

from __future__ import annotations

import csv
import io
from typing import Any

from backend.models import Department, Role
from tests.factories import (
    create_certificate_type,
    create_company_representative,
    create_department,
    create_officer,
    create_user,
    valid_credit_code,
    valid_id_number,
)

PERSON_FIELDS = [
    {"name": "姓名", "type": "text", "required": True, "max_length": 10},
    {"name": "公民身份号码", "type": "id_number", "required": True},
    {"name": "性别", "type": "enum", "required": True, "options": ["男", "女"]},
    {"name": "出生日期", "type": "date", "required": True},
    {"name": "月缴存额", "type": "number", "required": False},
    {"name": "备注", "type": "text", "required": False, "max_length": 20},
]
COMPANY_FIELDS = [
    {"name": "名称", "type": "text", "required": True, "max_length": 100},
    {"name": "统一社会信用代码", "type": "credit_code", "required": True},
    {"name": "有效期至", "type": "date", "required": False},
]


def person_type(department: Department | None = None, **kwargs: Any):
    """A person-held type with one field of every kind (no fixed validity)."""
    return create_certificate_type(
        department=department or create_department(), fields=PERSON_FIELDS, **kwargs
    )


def company_type(department: Department | None = None, **kwargs: Any):
    return create_certificate_type(
        department=department or create_department(),
        holder_kind="company",
        fields=COMPANY_FIELDS,
        **kwargs,
    )


def person_fields(id_number: str, name: str = "王小明", **changes: Any) -> dict[str, Any]:
    fields = {"姓名": name, "公民身份号码": id_number, "性别": "男", "出生日期": "1990-01-02"}
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}


def issue_to_person(officer, code: str, id_number: str | None = None, **field_changes: Any):
    """Issue a certificate of a person-held type through the service, as a request would."""
    from backend.services.certificate_issuing import issue_certificate

    id_number = id_number or valid_id_number()
    return issue_certificate(
        officer=officer,
        cert_type=code,
        holder={"name": "王小明", "id_number": id_number},
        fields=person_fields(id_number, **field_changes),
        issued_on="2024-03-01",
    )


def issue_body(cert_type, id_number: str | None = None, name: str = "王小明", **extra: Any):
    id_number = id_number or valid_id_number()
    body = {
        "type": cert_type.code,
        "holder": {"name": name, "id_number": id_number},
        "fields": person_fields(id_number, name),
        "issued_on": "2024-03-01",
    }
    body.update(extra)
    return body


def company_body(cert_type, credit_code: str | None = None, name: str = "测试有限公司", **extra):
    credit_code = credit_code or valid_credit_code()
    body = {
        "type": cert_type.code,
        "holder": {"name": name, "credit_code": credit_code},
        "fields": {"名称": name, "统一社会信用代码": credit_code},
        "issued_on": "2024-03-01",
    }
    body.update(extra)
    return body


def officer_of(department: Department):
    return create_officer(department)


def citizen_with(id_number: str, name: str = "王小明"):
    """A citizen account bound to the person with this ID number (created if new)."""
    from tests.factories import create_person

    return create_user(Role.CITIZEN, person=create_person(name=name, id_number=id_number))


def representative_of(company):
    return create_company_representative(company)


def csv_bytes(header: list[str], rows: list[list[Any]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


IMPORT_HEADER = [
    "paper_serial",
    "holder_name",
    "holder_id",
    "issued_on",
    "expires_on",
    "姓名",
    "公民身份号码",
    "性别",
    "出生日期",
]


def import_row(serial: str, id_number: str, name: str = "赵六", **changes: Any) -> list[Any]:
    row = {
        "paper_serial": serial,
        "holder_name": name,
        "holder_id": id_number,
        "issued_on": "2020-05-01",
        "expires_on": "2099-05-01",
        "姓名": name,
        "公民身份号码": id_number,
        "性别": "女",
        "出生日期": "1985-06-30",
    }
    row.update(changes)
    return [row[h] for h in IMPORT_HEADER]
