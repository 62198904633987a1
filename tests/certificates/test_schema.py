"""Certificate data is checked against its type's schema; every problem names its field."""

from datetime import date

import pytest

from backend.errors import UnprocessableEntity
from backend.services.certificate_schema import (
    check_certificate_data,
    check_field_schema,
    check_validity,
    validate_certificate_data,
)
from tests.certificates.helpers import company_type, person_fields, person_type
from tests.factories import valid_credit_code, valid_id_number


def codes_by_field(problems):
    return {p.field: p.code for p in problems}


def test_good_data_comes_back_cleaned_in_schema_order():
    cert_type = person_type()
    id_number = valid_id_number().lower()
    cleaned = validate_certificate_data(
        cert_type, person_fields(id_number, 月缴存额="1,200.50", 备注="  有  ", 姓名=" 王小明 ")
    )
    assert list(cleaned) == ["姓名", "公民身份号码", "性别", "出生日期", "月缴存额", "备注"]
    assert cleaned["姓名"] == "王小明"
    assert cleaned["公民身份号码"] == id_number.upper()
    assert cleaned["月缴存额"] == 1200.5
    assert cleaned["备注"] == "有"


def test_every_problem_is_reported_at_once_each_naming_its_field():
    cert_type = person_type()
    good_id = valid_id_number()
    bad_id = good_id[:-1] + ("0" if good_id[-1] != "0" else "1")
    data = {
        "姓名": "一个名字长得超过了十个字的人",
        "公民身份号码": bad_id,
        "性别": "未知",
        "出生日期": "2023-02-30",
        "月缴存额": "很多",
        "血型": "A",
    }
    with pytest.raises(UnprocessableEntity) as caught:
        validate_certificate_data(cert_type, data)
    error = caught.value
    assert error.status_code == 422
    details = {d["field"]: d["code"] for d in error.details}
    assert details == {
        "姓名": "value_too_long",
        "公民身份号码": "invalid_id_number",
        "性别": "invalid_option",
        "出生日期": "invalid_date",
        "月缴存额": "invalid_number",
        "血型": "unknown_field",
    }
    assert error.code == "value_too_long" and error.field == "姓名"
    assert all(d["field"] in d["message"] for d in error.details)


def test_missing_required_fields_are_each_named_and_blank_counts_as_missing():
    cert_type = person_type()
    _, problems = check_certificate_data(cert_type, {"姓名": "  ", "性别": None, "备注": ""})
    assert codes_by_field(problems) == {
        "姓名": "missing_field",
        "公民身份号码": "missing_field",
        "性别": "missing_field",
        "出生日期": "missing_field",
    }


def test_a_credit_code_with_a_wrong_check_character_is_rejected():
    cert_type = company_type()
    good = valid_credit_code()
    bad = good[:-1] + ("1" if good[-1] != "1" else "2")
    _, problems = check_certificate_data(cert_type, {"名称": "甲公司", "统一社会信用代码": bad})
    assert codes_by_field(problems) == {"统一社会信用代码": "invalid_credit_code"}
    cleaned, problems = check_certificate_data(
        cert_type, {"名称": "甲公司", "统一社会信用代码": good.lower()}
    )
    assert problems == [] and cleaned["统一社会信用代码"] == good


@pytest.mark.parametrize("value", [["a"], {"a": 1}, 12])
def test_a_value_of_the_wrong_json_type_is_named(value):
    cert_type = person_type()
    _, problems = check_certificate_data(cert_type, person_fields(valid_id_number(), 性别=value))
    assert codes_by_field(problems) == {"性别": "invalid_type"}


def test_data_that_is_not_an_object_is_one_problem():
    _, problems = check_certificate_data(person_type(), ["姓名"])
    assert codes_by_field(problems) == {"fields": "invalid_type"}


def test_numbers_reject_booleans_and_infinity():
    cert_type = person_type()
    for value in (True, "inf", "NaN", float("inf")):
        _, problems = check_certificate_data(
            cert_type, person_fields(valid_id_number(), 月缴存额=value)
        )
        assert codes_by_field(problems) == {"月缴存额": "invalid_number"}, value


def test_expiry_must_come_after_issue_and_issue_cannot_be_in_the_future():
    cert_type = person_type(validity_years=5)
    today = date(2026, 1, 10)
    issued, expires, problems = check_validity(cert_type, {}, "2024-02-29", None, today=today)
    assert (issued, expires, problems) == (date(2024, 2, 29), date(2029, 2, 28), [])
    _, _, problems = check_validity(cert_type, {}, "2024-03-01", "2024-03-01", today=today)
    assert codes_by_field(problems) == {"expires_on": "expiry_before_issue"}
    _, _, problems = check_validity(cert_type, {}, "2026-01-11", None, today=today)
    assert codes_by_field(problems) == {"issued_on": "issued_in_future"}
    _, _, problems = check_validity(cert_type, {}, "2026-13-01", "2030-02-30", today=today)
    assert codes_by_field(problems) == {"issued_on": "invalid_date", "expires_on": "invalid_date"}


def test_a_valid_until_field_sets_the_expiry_and_is_checked_against_the_issue_date():
    cert_type = company_type(validity_years=3)
    _, expires, problems = check_validity(
        cert_type, {"有效期至": "2027-06-30"}, "2024-01-01", None, today=date(2025, 1, 1)
    )
    assert expires == date(2027, 6, 30) and problems == []
    _, _, problems = check_validity(
        cert_type, {"有效期至": "2023-06-30"}, "2024-01-01", None, today=date(2025, 1, 1)
    )
    assert codes_by_field(problems) == {"有效期至": "expiry_before_issue"}


def test_a_field_schema_with_duplicates_unknown_types_or_bad_options_is_refused():
    problems = check_field_schema(
        [
            {"name": "姓名", "type": "text"},
            {"name": "姓名", "type": "text"},
            {"name": "颜色", "type": "colour"},
            {"name": "性别", "type": "enum", "options": []},
            {"name": "日期", "type": "date", "options": ["x"]},
            {"name": "备注", "type": "text", "max_length": 0},
        ]
    )
    assert [(p.field, p.code) for p in problems] == [
        ("fields.1", "duplicate_field"),
        ("fields.2", "invalid_field_type"),
        ("fields.3", "invalid_options"),
        ("fields.4", "invalid_options"),
        ("fields.5", "invalid_max_length"),
    ]
    assert check_field_schema([]) and check_field_schema("x")
