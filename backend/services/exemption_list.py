"""The published material-exemption list: search, CSV, one item, the sharing rate.

Only the version of each item flagged ``is_public`` is ever shown here, so a revision under
review never leaks to the public.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from backend.errors import NotFound, UnprocessableEntity
from backend.extensions import db
from backend.models import Department, User
from backend.models.service_items import (
    EXEMPTION_LABELS,
    SHARING_BASES,
    ExemptionBasis,
    Material,
    PublicationBatch,
    ServiceItem,
    ServiceItemVersion,
)
from backend.services.applicant_exemptions import exemptions_for
from backend.services.service_items import Page, paginate

SHARING_TARGET_PERCENT = 30
CSV_HEADER = [
    "序号",
    "实施部门",
    "事项类别",
    "主项名称",
    "子项名称",
    "办理项名称",
    "材料名称",
    "出具部门",
    "关联电子证照",
    "关联证照字段",
    "免提交方式",
    "是否必需",
    "备注",
    "发布批次",
    "事项编号",
]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _department_by_code(code: str) -> Department:
    department = db.session.scalar(select(Department).where(Department.code == code))
    if department is None:
        raise UnprocessableEntity("部门不存在", code="unknown_department", field="department")
    return department


def _public_statement(filters: dict[str, Any]):
    """Published versions matching the filters, in list order, with what presenting needs.

    An unknown ``department`` code is 422 ``unknown_department``, not an empty list.
    """
    stmt = (
        select(ServiceItemVersion)
        .join(ServiceItem, ServiceItem.id == ServiceItemVersion.item_id)
        .where(ServiceItemVersion.is_public.is_(True))
        .order_by(ServiceItem.department_id, ServiceItem.id)
        .options(
            selectinload(ServiceItemVersion.item).selectinload(ServiceItem.department),
            selectinload(ServiceItemVersion.batch),
            selectinload(ServiceItemVersion.materials).selectinload(Material.certificate_type),
        )
    )
    if filters.get("department"):
        department = _department_by_code(filters["department"])
        stmt = stmt.where(ServiceItem.department_id == department.id)
    if filters.get("category"):
        stmt = stmt.where(ServiceItemVersion.category == filters["category"])
    if filters.get("batch"):
        stmt = stmt.join(PublicationBatch, PublicationBatch.id == ServiceItemVersion.batch_id)
        stmt = stmt.where(PublicationBatch.number == filters["batch"])
    text = (filters.get("q") or "").strip().lower()
    if text:
        stmt = stmt.where(ServiceItemVersion.search_text.contains(text, autoescape=True))
    return stmt


def search(filters: dict[str, Any]) -> tuple[Page, Department | None]:
    """One page of the public list (city-wide, or one department's with ``department``)."""
    stmt = _public_statement(filters)
    department = None
    if filters.get("department"):
        department = db.session.scalar(
            select(Department).where(Department.code == filters["department"])
        )
    return paginate(stmt, filters.get("page", 1), filters.get("per_page", 20)), department


def _cell(value: Any) -> str:
    """Neutralise spreadsheet formulas in free text (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_chunks(filters: dict[str, Any]) -> Iterator[str]:
    """The filtered list as CSV text, one row per material, starting with a UTF-8 BOM."""
    stmt = _public_statement(filters).execution_options(yield_per=500)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(CSV_HEADER)
    n = 0
    for version in db.session.scalars(stmt):
        item = version.item
        for material in version.materials:
            n += 1
            writer.writerow(
                [
                    n,
                    item.department.name,
                    version.category,
                    _cell(version.main_item),
                    _cell(version.sub_item),
                    _cell(version.handling_item),
                    _cell(material.name),
                    _cell(material.issuing_department_name),
                    material.certificate_type.name if material.certificate_type else "",
                    _cell(";".join(material.certificate_fields or [])),
                    EXEMPTION_LABELS[material.exemption_basis],
                    "是" if material.required else "否",
                    _cell(material.notes),
                    f"第{version.batch.number}批" if version.batch else "",
                    item.id,
                ]
            )
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def public_item(item_id: int) -> ServiceItemVersion:
    """The published version of an item, or 404 (never a draft)."""
    version = db.session.scalar(
        select(ServiceItemVersion)
        .where(ServiceItemVersion.item_id == item_id, ServiceItemVersion.is_public.is_(True))
        .options(
            selectinload(ServiceItemVersion.item).selectinload(ServiceItem.department),
            selectinload(ServiceItemVersion.batch),
            selectinload(ServiceItemVersion.materials).selectinload(Material.certificate_type),
        )
    )
    if version is None:
        raise NotFound("事项不存在或尚未发布", code="service_item_not_found")
    return version


def _figures(counts: dict[str | None, int], items: int) -> dict[str, Any]:
    total = sum(counts.values())
    shared = sum(counts.get(b, 0) for b in SHARING_BASES)
    return {
        "items": items,
        "materials": total,
        "by_certificate": counts.get(ExemptionBasis.CERTIFICATE, 0),
        "by_verification_request": counts.get(ExemptionBasis.VERIFICATION_REQUEST, 0),
        "by_commitment": counts.get(ExemptionBasis.COMMITMENT, 0),
        "must_submit": counts.get(None, 0),
        "shared": shared,
        "sharing_rate": round(shared / total, 4) if total else None,
        "sharing_rate_percent": round(100 * shared / total, 1) if total else None,
        # Integer comparison: no float rounding decides whether a department meets the target.
        "meets_target": bool(total) and shared * 100 >= total * SHARING_TARGET_PERCENT,
    }


def sharing_rate() -> dict[str, Any]:
    """Exempt materials (certificate or verification request) over all published materials."""
    material_rows = db.session.execute(
        select(ServiceItem.department_id, Material.exemption_basis, func.count())
        .select_from(Material)
        .join(ServiceItemVersion, ServiceItemVersion.id == Material.version_id)
        .join(ServiceItem, ServiceItem.id == ServiceItemVersion.item_id)
        .where(ServiceItemVersion.is_public.is_(True))
        .group_by(ServiceItem.department_id, Material.exemption_basis)
    )
    item_rows = db.session.execute(
        select(ServiceItem.department_id, func.count())
        .select_from(ServiceItemVersion)
        .join(ServiceItem, ServiceItem.id == ServiceItemVersion.item_id)
        .where(ServiceItemVersion.is_public.is_(True))
        .group_by(ServiceItem.department_id)
    )
    per_department: dict[int, dict[str | None, int]] = {}
    city: dict[str | None, int] = {}
    for department_id, basis, count in material_rows:
        per_department.setdefault(department_id, {})[basis] = count
        city[basis] = city.get(basis, 0) + count
    items = dict(item_rows.all())
    departments = {
        d.id: d
        for d in db.session.scalars(select(Department).where(Department.id.in_(per_department)))
    }
    rows = [
        {
            "department": {"id": d.id, "code": d.code, "name": d.name},
            **_figures(per_department[d.id], items.get(d.id, 0)),
        }
        for d in sorted(departments.values(), key=lambda d: d.id)
    ]
    return {
        "target_percent": SHARING_TARGET_PERCENT,
        "city": _figures(city, sum(items.values())),
        "departments": rows,
    }


def published_item_for(caller: User | None, item_id: int):
    """The published item; for a logged-in holder also each material's verdict for them."""
    version = public_item(item_id)
    verdicts, summary = exemptions_for(caller, version)
    return version, verdicts, summary
