"""The content of a service item: the rules it must meet, and how it is stored and searched.

``check_content`` lists every problem (for the catalogue import's row report);
``checked_content`` raises the first as 422 with all of them in ``details``. Both the API and
the import go through here, so the rules live once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from backend import clock
from backend.errors import UnprocessableEntity
from backend.extensions import db
from backend.models import CertificateType, Department
from backend.models.service_items import (
    CATEGORIES,
    ExemptionBasis,
    Material,
    ServiceItemVersion,
)

NAME_MAX = 200
ISSUER_MAX = 100
NOTES_MAX = 500
MAX_MATERIALS = 50
BASES = tuple(b.value for b in ExemptionBasis)


# ---------------------------------------------------------------- content rules


@dataclass
class Lookups:
    """Reference data content is checked against, loaded once per request or import."""

    certificate_types: dict[str, CertificateType]
    departments_by_name: dict[str, Department]
    departments_by_code: dict[str, Department]

    @classmethod
    def load(cls) -> Lookups:
        departments = list(db.session.scalars(select(Department)))
        return cls(
            certificate_types={t.code: t for t in db.session.scalars(select(CertificateType))},
            departments_by_name={d.name: d for d in departments},
            departments_by_code={d.code: d for d in departments},
        )

    def department(self, name_or_code: str | None) -> Department | None:
        if not name_or_code:
            return None
        return self.departments_by_name.get(name_or_code) or self.departments_by_code.get(
            name_or_code
        )


def _problem(field: str, code: str, message: str) -> dict[str, str]:
    return {"field": field, "code": code, "message": message}


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _check_name(
    content: dict, key: str, label: str, limit: int, problems: list, prefix: str = ""
) -> str:
    value = _text(content.get(key))
    field = prefix + key
    if not value:
        problems.append(_problem(field, "missing_field", f"{label}不能为空"))
    elif len(value) > limit:
        problems.append(_problem(field, "too_long", f"{label}不能超过 {limit} 个字"))
    return value


def _check_material(
    raw: dict, index: int, lookups: Lookups, problems: list[dict[str, str]]
) -> dict[str, Any]:
    prefix = f"materials.{index}."
    name = _check_name(raw, "name", "材料名称", NAME_MAX, problems, prefix)
    basis = raw.get("exemption_basis") or None
    if basis is not None and basis not in BASES:
        problems.append(
            _problem(
                prefix + "exemption_basis",
                "invalid_exemption_basis",
                "免提交方式应为 certificate、verification_request、commitment 或留空",
            )
        )
    type_code = _text(raw.get("certificate_type")) or None
    certificate_type = None
    if type_code is not None:
        certificate_type = lookups.certificate_types.get(type_code)
        if certificate_type is None:
            problems.append(
                _problem(
                    prefix + "certificate_type",
                    "unknown_certificate_type",
                    f"证照类型不存在:{type_code}",
                )
            )
    elif basis == ExemptionBasis.CERTIFICATE:
        problems.append(
            _problem(
                prefix + "certificate_type",
                "certificate_type_required",
                "免提交方式为电子证照时须关联证照类型",
            )
        )
    fields = [_text(f) for f in raw.get("certificate_fields") or [] if _text(f)]
    if fields and type_code is None:
        problems.append(
            _problem(
                prefix + "certificate_fields",
                "certificate_type_required",
                "指定证照字段时须关联证照类型",
            )
        )
    elif certificate_type is not None:
        unknown = [f for f in fields if f not in certificate_type.field_names()]
        if unknown:
            problems.append(
                _problem(
                    prefix + "certificate_fields",
                    "unknown_certificate_field",
                    f"证照类型「{certificate_type.name}」没有字段:{'、'.join(unknown)}",
                )
            )
    issuer = _text(raw.get("issuing_department")) or None
    if issuer is None and certificate_type is not None:
        issuer = certificate_type.department.name
    if issuer is not None and len(issuer) > ISSUER_MAX:
        problems.append(
            _problem(
                prefix + "issuing_department", "too_long", f"出具部门不能超过 {ISSUER_MAX} 个字"
            )
        )
    department = lookups.department(issuer)
    if basis == ExemptionBasis.VERIFICATION_REQUEST and department is None:
        problems.append(
            _problem(
                prefix + "issuing_department",
                "unknown_issuing_department",
                "免提交方式为部门协查时,出具部门须为本市已登记的部门",
            )
        )
    notes = _text(raw.get("notes"))
    if len(notes) > NOTES_MAX:
        problems.append(_problem(prefix + "notes", "too_long", f"备注不能超过 {NOTES_MAX} 个字"))
    required = raw.get("required", True)
    return {
        "name": name,
        "issuing_department": department.name if department is not None else issuer,
        "certificate_type": type_code,
        "certificate_fields": fields,
        "exemption_basis": basis,
        "required": bool(required),
        "notes": notes,
    }


ITEM_FIELDS = {
    "category": str,
    "main_item": str,
    "sub_item": str,
    "handling_item": str,
    "materials": list,
}
MATERIAL_FIELDS = {
    "name": str,
    "issuing_department": str,
    "certificate_type": str,
    "certificate_fields": list,
    "exemption_basis": str,
    "required": bool,
    "notes": str,
}


def _shape_problems(raw: Any, spec: dict[str, type], prefix: str) -> list[dict[str, str]]:
    """Unknown keys and wrong types (the API's JSON Schema catches these before; imports don't)."""
    if not isinstance(raw, dict):
        return [_problem(prefix.rstrip(".") or "body", "invalid_type", "应为对象")]
    problems = []
    for key, value in raw.items():
        kind = spec.get(key)
        if kind is None:
            problems.append(_problem(prefix + key, "unknown_field", f"不允许的字段:{key}"))
        elif value is not None and not isinstance(value, kind):
            problems.append(_problem(prefix + key, "invalid_type", f"字段类型错误:{key}"))
        elif key == "certificate_fields" and not all(isinstance(v, str) for v in value or []):
            problems.append(_problem(prefix + key, "invalid_type", "证照字段应为字符串列表"))
    return problems


def check_content(content: Any, lookups: Lookups) -> tuple[dict[str, Any], list[dict]]:
    """Normalise an item's content and list every problem (field, code, Chinese message)."""
    problems = _shape_problems(content, ITEM_FIELDS, "")
    if not isinstance(content, dict) or problems:
        return {}, problems
    for i, raw in enumerate(content.get("materials") or []):
        problems.extend(_shape_problems(raw, MATERIAL_FIELDS, f"materials.{i}."))
    if problems:
        return {}, problems
    category = _text(content.get("category"))
    if category not in CATEGORIES:
        problems.append(
            _problem("category", "invalid_category", "事项类别应为:" + "、".join(CATEGORIES))
        )
    normalised: dict[str, Any] = {"category": category}
    for key, label in (("main_item", "主项名称"), ("sub_item", "子项名称")):
        normalised[key] = _check_name(content, key, label, NAME_MAX, problems)
    normalised["handling_item"] = _check_name(
        content, "handling_item", "办理项名称", NAME_MAX, problems
    )
    raw_materials = content.get("materials") or []
    if not raw_materials:
        problems.append(_problem("materials", "missing_field", "至少需要一项申请材料"))
    elif len(raw_materials) > MAX_MATERIALS:
        problems.append(_problem("materials", "too_many", f"申请材料不能超过 {MAX_MATERIALS} 项"))
    materials = [_check_material(m, i, lookups, problems) for i, m in enumerate(raw_materials)]
    seen: set[str] = set()
    for i, material in enumerate(materials):
        if material["name"] and material["name"] in seen:
            problems.append(
                _problem(
                    f"materials.{i}.name",
                    "duplicate_material",
                    f"同一办理项下材料名称重复:{material['name']}",
                )
            )
        seen.add(material["name"])
    normalised["materials"] = materials
    return normalised, problems


def checked_content(content: dict, lookups: Lookups | None = None) -> dict[str, Any]:
    """The normalised content, or 422 naming the first problem (all of them in details)."""
    normalised, problems = check_content(content, lookups or Lookups.load())
    if problems:
        first = problems[0]
        raise UnprocessableEntity(
            first["message"], code=first["code"], field=first["field"], details=problems
        )
    return normalised


# ---------------------------------------------------------------- versions and content


def version_content(version: ServiceItemVersion) -> dict[str, Any]:
    """A version's content in the shape ``check_content`` accepts (export, history)."""
    return {
        "category": version.category,
        "main_item": version.main_item,
        "sub_item": version.sub_item,
        "handling_item": version.handling_item,
        "materials": [
            {
                "name": m.name,
                "issuing_department": m.issuing_department_name,
                "certificate_type": m.certificate_type.code if m.certificate_type else None,
                "certificate_fields": list(m.certificate_fields or []),
                "exemption_basis": m.exemption_basis,
                "required": m.required,
                "notes": m.notes,
            }
            for m in version.materials
        ],
    }


def bigrams(text: str) -> list[str]:
    """Distinct two-character pieces of each word: what Chinese text search can index.

    Any substring of the text of two or more characters (without spaces) is made of
    bigrams of one word, so matching every bigram of a query never misses a match.
    """
    grams: set[str] = set()
    for word in text.lower().split():
        grams.update(word[i : i + 2] for i in range(len(word) - 1))
    return sorted(grams)


def _quoted(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def search_terms_for(text: str) -> str:
    """The text's bigrams in PostgreSQL's tsvector input syntax (stored as is on SQLite)."""
    return " ".join(_quoted(g) for g in bigrams(text))


def search_query_for(text: str) -> str | None:
    """A tsquery matching rows that contain every bigram of ``text``; None under two chars."""
    grams = bigrams(text)
    return " & ".join(_quoted(g) for g in grams) if grams else None


def search_text_for(department: Department, content: dict, lookups: Lookups) -> str:
    """What text search looks in: department, category, names, materials, linked types."""
    parts = [
        department.name,
        content["category"],
        content["main_item"],
        content["sub_item"],
        content["handling_item"],
    ]
    for material in content["materials"]:
        parts.append(material["name"])
        if material["certificate_type"]:
            parts.append(lookups.certificate_types[material["certificate_type"]].name)
    return " ".join(parts).lower()


def apply_content(
    version: ServiceItemVersion, department: Department, content: dict, lookups: Lookups
) -> None:
    """Replace a version's names and materials with checked content."""
    version.department_id = department.id
    version.category = content["category"]
    version.main_item = content["main_item"]
    version.sub_item = content["sub_item"]
    version.handling_item = content["handling_item"]
    version.search_text = search_text_for(department, content, lookups)
    version.search_terms = search_terms_for(version.search_text)
    version.updated_at = clock.now()
    materials = []
    for position, m in enumerate(content["materials"], start=1):
        certificate_type = lookups.certificate_types.get(m["certificate_type"] or "")
        issuer = lookups.department(m["issuing_department"])
        materials.append(
            Material(
                position=position,
                name=m["name"],
                issuing_department_name=m["issuing_department"],
                issuing_department_id=issuer.id if issuer else None,
                certificate_type_id=certificate_type.id if certificate_type else None,
                certificate_type=certificate_type,
                certificate_fields=m["certificate_fields"],
                exemption_basis=m["exemption_basis"],
                required=m["required"],
                notes=m["notes"],
            )
        )
    version.materials = materials
