"""Certificate data against its type's field schema and the quality rules, in one place.

Every caller that accepts certificate data (issuing, batch import, verification answers,
seeding) goes through ``check_certificate_data`` / ``validate_certificate_data`` so the
rules cannot drift: GB 11643 ID check digit, GB 32100 credit-code check character, dates
that exist, required fields present, no unknown fields, enum options, text length. Every
problem is reported at once, each naming its field with a stable code.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from backend import clock
from backend.errors import UnprocessableEntity
from backend.models import CertificateType
from backend.models.certificate_types import FIELD_TYPES
from backend.security.checksums import (
    is_valid_credit_code,
    is_valid_id_number,
    normalise_id_number,
)
from backend.validation import DAY_RANGE_TEXT, parse_day

# Imports check the same number twice per row (holder and field): remember recent answers.
valid_id_number = lru_cache(maxsize=4096)(is_valid_id_number)
valid_credit_code = lru_cache(maxsize=4096)(is_valid_credit_code)
DEFAULT_TEXT_LENGTH = 200
MAX_TEXT_LENGTH = 2000
# The field whose date, when present, is the certificate's expiry.
EXPIRY_FIELD = "有效期至"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the data: which field, a stable code, a Chinese message."""

    field: str
    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return (int(value) if value.is_integer() else value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip().replace(",", ""))
        except InvalidOperation:
            return None
        if not parsed.is_finite():
            return None
        return int(parsed) if parsed == parsed.to_integral_value() else float(parsed)
    return None


def _check_value(spec: dict, value: Any) -> tuple[Any, Problem | None]:
    """The cleaned value of one present field, or the problem with it."""
    name, kind = spec["name"], spec["type"]
    if kind == "number":
        number = _number(value)
        if number is None:
            return None, Problem(name, "invalid_number", f"{name}:应为数字")
        return number, None
    if not isinstance(value, str):
        return None, Problem(name, "invalid_type", f"{name}:应为字符串")
    value = value.strip()
    if kind == "text":
        limit = spec.get("max_length") or DEFAULT_TEXT_LENGTH
        if len(value) > limit:
            return None, Problem(name, "value_too_long", f"{name}:长度不能超过 {limit} 个字符")
        return value, None
    if kind == "date":
        parsed = parse_day(value)
        if parsed is None:
            return None, Problem(
                name,
                "invalid_date",
                f"{name}:日期无效,应为 {DAY_RANGE_TEXT} 之间存在的日期,格式 YYYY-MM-DD",
            )
        return parsed.isoformat(), None
    if kind == "enum":
        options = spec.get("options") or []
        if value not in options:
            return None, Problem(
                name, "invalid_option", f"{name}:取值应为 {'、'.join(options)} 之一"
            )
        return value, None
    if kind == "id_number":
        normalised = normalise_id_number(value)
        if not valid_id_number(normalised):
            return None, Problem(name, "invalid_id_number", f"{name}:公民身份号码校验未通过")
        return normalised, None
    if kind == "credit_code":
        normalised = value.upper()
        if not valid_credit_code(normalised):
            return None, Problem(name, "invalid_credit_code", f"{name}:统一社会信用代码校验未通过")
        return normalised, None
    raise ValueError(f"unknown field type {kind!r}")  # the type schema is validated on save


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def check_certificate_data(
    cert_type: CertificateType, data: Any
) -> tuple[dict[str, Any], list[Problem]]:
    """Cleaned fields (schema order, blanks dropped) and every problem found."""
    if not isinstance(data, dict):
        return {}, [Problem("fields", "invalid_type", "证照数据应为对象")]
    problems: list[Problem] = []
    cleaned: dict[str, Any] = {}
    known = set()
    for spec in cert_type.fields:
        name = spec["name"]
        known.add(name)
        value = data.get(name)
        if _blank(value):
            if spec.get("required"):
                problems.append(Problem(name, "missing_field", f"缺少必填字段:{name}"))
            continue
        clean, problem = _check_value(spec, value)
        if problem is not None:
            problems.append(problem)
        else:
            cleaned[name] = clean
    for name in data:
        if name not in known:
            problems.append(Problem(str(name), "unknown_field", f"证照类型中没有该字段:{name}"))
    return cleaned, problems


def raise_problems(problems: list[Problem], **extra: Any) -> None:
    """422 whose code, field and message are the first problem's; ``details`` lists all."""
    if problems:
        first = problems[0]
        raise UnprocessableEntity(
            first.message,
            code=first.code,
            field=first.field,
            details=[p.to_dict() for p in problems],
            **extra,
        )


def validate_certificate_data(cert_type: CertificateType, data: Any) -> dict[str, Any]:
    """Cleaned fields, or 422 naming every bad field (``details``) with a stable code."""
    cleaned, problems = check_certificate_data(cert_type, data)
    raise_problems(problems)
    return cleaned


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year + years, day=28)


def check_validity(
    cert_type: CertificateType,
    cleaned: dict[str, Any],
    issued_on: Any,
    expires_on: Any = None,
    *,
    today: date | None = None,
) -> tuple[date | None, date | None, list[Problem]]:
    """Issue and expiry dates: both real days, issue neither in the future nor before 1900,
    expiry after issue.

    Expiry is the given date, else the type's ``有效期至`` field, else issue date plus the
    type's validity in years (none when the type has no fixed validity).
    """
    today = today or clock.now().astimezone(clock.SHANGHAI).date()
    problems: list[Problem] = []
    issued = parse_day(issued_on) if issued_on is not None else today
    if issued is None:
        problems.append(
            Problem(
                "issued_on",
                "invalid_date",
                f"发证日期无效,应为 {DAY_RANGE_TEXT} 之间存在的日期,格式 YYYY-MM-DD",
            )
        )
    elif issued > today:
        problems.append(Problem("issued_on", "issued_in_future", "发证日期不能晚于今天"))
    expiry_field = "expires_on"
    expires: date | None = None
    if not _blank(expires_on):
        expires = parse_day(expires_on)
        if expires is None:
            problems.append(
                Problem(
                    "expires_on",
                    "invalid_date",
                    f"有效期至日期无效,应为 {DAY_RANGE_TEXT} 之间存在的日期",
                )
            )
    elif EXPIRY_FIELD in cleaned:
        expires, expiry_field = date.fromisoformat(cleaned[EXPIRY_FIELD]), EXPIRY_FIELD
    elif issued is not None and cert_type.validity_years:
        expires = add_years(issued, cert_type.validity_years)
    if issued is not None and expires is not None and expires <= issued:
        problems.append(Problem(expiry_field, "expiry_before_issue", "有效期截止日应晚于发证日期"))
    return issued, expires, problems


# --- the field schema itself (edited by the system administrator) -------------------------


def check_field_schema(fields: Any) -> list[Problem]:
    """Problems with a type's ordered field schema (names unique, known types, options)."""
    if not isinstance(fields, list) or not fields:
        return [Problem("fields", "invalid_schema", "字段列表不能为空")]
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, spec in enumerate(fields):
        where = f"fields.{i}"
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            problems.append(Problem(where, "invalid_schema", "字段定义应包含名称"))
            continue
        name = spec["name"].strip()
        if not name or name in seen:
            problems.append(Problem(where, "duplicate_field", f"字段名称为空或重复:{name}"))
        seen.add(name)
        kind = spec.get("type")
        if kind not in FIELD_TYPES:
            problems.append(Problem(where, "invalid_field_type", f"未知的字段类型:{kind}"))
        options = spec.get("options")
        if kind == "enum" and (
            not isinstance(options, list)
            or not options
            or len(set(options)) != len(options)
            or not all(isinstance(o, str) and o for o in options)
        ):
            problems.append(Problem(where, "invalid_options", f"枚举字段需要不重复的选项:{name}"))
        if kind != "enum" and options is not None:
            problems.append(Problem(where, "invalid_options", f"只有枚举字段可以有选项:{name}"))
        limit = spec.get("max_length")
        if limit is not None and (
            kind != "text" or not isinstance(limit, int) or not 1 <= limit <= MAX_TEXT_LENGTH
        ):
            problems.append(
                Problem(where, "invalid_max_length", f"文本长度上限应为 1-{MAX_TEXT_LENGTH}")
            )
    return problems


def normalise_field_schema(fields: list[dict]) -> list[dict]:
    """The stored form: every key present that the type needs, nothing else."""
    out = []
    for spec in fields:
        entry: dict[str, Any] = {
            "name": spec["name"].strip(),
            "type": spec["type"],
            "required": bool(spec.get("required", False)),
        }
        if spec["type"] == "text":
            entry["max_length"] = spec.get("max_length") or DEFAULT_TEXT_LENGTH
        if spec["type"] == "enum":
            entry["options"] = list(spec["options"])
        out.append(entry)
    return out
