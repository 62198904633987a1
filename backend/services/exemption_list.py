"""The published material-exemption list: search, CSV, one item, the sharing rate.

Only the version of each item flagged ``is_public`` is ever shown here, so a revision under
review never leaks to the public.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from sqlalchemy import cast, func, select, tuple_
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import joinedload, selectinload

from backend.errors import NotFound, UnprocessableEntity
from backend.extensions import db
from backend.models import CertificateType, Department, User
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
from backend.services.service_item_content import search_query_for
from backend.services.service_items import Page

SHARING_TARGET_PERCENT = 30
CSV_CHUNK = 500  # items per query while streaming the CSV
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


def _display(stmt):
    """Load what presenting a version needs, in a fixed number of queries."""
    return stmt.options(
        joinedload(ServiceItemVersion.item).joinedload(ServiceItem.department),
        joinedload(ServiceItemVersion.batch),
        # Only the type's code and name: its field schema is a JSON document per row.
        selectinload(ServiceItemVersion.materials)
        .joinedload(Material.certificate_type)
        .load_only(CertificateType.code, CertificateType.name),
    )


def _public_statement(filters: dict[str, Any], department: Department | None = None):
    """Published versions matching the filters, in list order.

    An unknown ``department`` code is 422 ``unknown_department``, not an empty list.
    Text search is a substring match on ``search_text``; on PostgreSQL the GIN-indexed
    bigrams narrow the rows first, and for a two-character word they are the whole match.
    """
    stmt = (
        select(ServiceItemVersion)
        .where(ServiceItemVersion.is_public.is_(True))
        .order_by(ServiceItemVersion.department_id, ServiceItemVersion.item_id)
    )
    if filters.get("department"):
        department = department or _department_by_code(filters["department"])
        stmt = stmt.where(ServiceItemVersion.department_id == department.id)
    if filters.get("category"):
        stmt = stmt.where(ServiceItemVersion.category == filters["category"])
    if filters.get("batch"):
        stmt = stmt.join(PublicationBatch, PublicationBatch.id == ServiceItemVersion.batch_id)
        stmt = stmt.where(PublicationBatch.number == filters["batch"])
    text = (filters.get("q") or "").strip().lower()
    if not text:
        return stmt
    tsquery = search_query_for(text)
    if tsquery is None or not _on_postgresql():
        return stmt.where(ServiceItemVersion.search_text.contains(text, autoescape=True))
    stmt = stmt.where(ServiceItemVersion.search_terms.op("@@")(cast(tsquery, TSQUERY)))
    if len(text) > 2 or " " in text:
        # strpos: a plain substring test, faster than LIKE and without wildcards to escape.
        stmt = stmt.where(func.strpos(ServiceItemVersion.search_text, text) > 0)
    return stmt


def _on_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def search(filters: dict[str, Any]) -> tuple[Page, Department | None]:
    """One page of the public list (city-wide, or one department's with ``department``)."""
    department = _department_by_code(filters["department"]) if filters.get("department") else None
    stmt = _public_statement(filters, department)
    text_search = bool((filters.get("q") or "").strip())
    page = _page(stmt, filters.get("page", 1), filters.get("per_page", 20), text_search)
    return page, department


def paginate_ids(stmt, page: int, per_page: int) -> Page:
    """A page by ids in list order, then its versions loaded for display; total counted apart."""
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    ids = list(
        db.session.scalars(
            stmt.with_only_columns(ServiceItemVersion.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return Page(_load_for_display(ids), total or 0, page, per_page)


def _load_for_display(ids: list[int]) -> list[ServiceItemVersion]:
    if not ids:
        return []
    loaded = db.session.scalars(
        _display(select(ServiceItemVersion).where(ServiceItemVersion.id.in_(ids)))
    )
    by_id = {v.id: v for v in loaded}
    return [by_id[i] for i in ids]


def _page(stmt, page: int, per_page: int, text_search: bool) -> Page:
    """One page and the total.

    Browsing walks the (is_public, department, item) index for the page and counts apart.
    A text search must visit every match to count them anyway, so its page rides on the
    same pass (``count(*) OVER ()``) over narrow (id, department, item) rows, and the
    page's versions are then loaded by id. On
    PostgreSQL the matches are a MATERIALIZED CTE: planned without the LIMIT, a selective
    search uses the GIN index instead of walking the list order hoping to stop early.
    Past the last page the window has no row to ride on; only then is the total counted
    on its own.
    """
    if not text_search:
        return paginate_ids(stmt, page, per_page)
    keys = stmt.with_only_columns(
        ServiceItemVersion.id, ServiceItemVersion.department_id, ServiceItemVersion.item_id
    ).order_by(None)
    matches = keys.cte("matches")
    if _on_postgresql():
        matches = matches.prefix_with("MATERIALIZED")
    rows = db.session.execute(
        select(matches.c.id, func.count().over())
        .order_by(matches.c.department_id, matches.c.item_id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    if not rows:
        return Page([], 0, page, per_page) if page == 1 else paginate_ids(stmt, page, per_page)
    ids = [version_id for version_id, _ in rows]
    return Page(_load_for_display(ids), rows[0][1], page, per_page)


def _cell(value: Any) -> str:
    """Neutralise spreadsheet formulas in free text (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_chunks(filters: dict[str, Any]) -> Iterator[str]:
    """The filtered list as CSV text, one row per material, starting with a UTF-8 BOM.

    Bad filters raise here, before streaming starts. Rows are read in keyset-paged chunks,
    each its own short query, so no cursor has to outlive the request's transaction.
    """
    return _csv_stream(_public_statement(filters))


def _csv_stream(stmt) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(CSV_HEADER)
    n = 0
    after: tuple[int, int] | None = None
    while True:
        rows = db.session.execute(_csv_chunk_rows(stmt, after)).all()
        if not rows:
            break
        for row in rows:
            n += 1
            writer.writerow(_csv_row(n, row))
        after = (rows[-1].department_id, rows[-1].item_id)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _csv_chunk_rows(stmt, after: tuple[int, int] | None):
    """Plain rows (no ORM objects: a city-wide export has ~100,000) for the next chunk of
    ``CSV_CHUNK`` versions after the ``after`` key, one row per material, in list order."""
    v = ServiceItemVersion
    keys = stmt.with_only_columns(v.id).limit(CSV_CHUNK)
    if after is not None:
        keys = keys.where(tuple_(v.department_id, v.item_id) > after)
    chunk = keys.subquery()
    return (
        select(
            v.department_id,
            v.item_id,
            Department.name.label("department"),
            v.category,
            v.main_item,
            v.sub_item,
            v.handling_item,
            Material.name.label("material"),
            Material.issuing_department_name,
            CertificateType.name.label("certificate_type"),
            Material.certificate_fields,
            Material.exemption_basis,
            Material.required,
            Material.notes,
            PublicationBatch.number.label("batch"),
        )
        .join(chunk, chunk.c.id == v.id)
        .join(Department, Department.id == v.department_id)
        .join(Material, Material.version_id == v.id)
        .outerjoin(CertificateType, CertificateType.id == Material.certificate_type_id)
        .outerjoin(PublicationBatch, PublicationBatch.id == v.batch_id)
        .order_by(v.department_id, v.item_id, Material.position)
    )


def _csv_row(n: int, row) -> list:
    return [
        n,
        row.department,
        row.category,
        _cell(row.main_item),
        _cell(row.sub_item),
        _cell(row.handling_item),
        _cell(row.material),
        _cell(row.issuing_department_name),
        row.certificate_type or "",
        _cell(";".join(row.certificate_fields or [])),
        EXEMPTION_LABELS[row.exemption_basis],
        "是" if row.required else "否",
        _cell(row.notes),
        f"第{row.batch}批" if row.batch else "",
        row.item_id,
    ]


def public_item(item_id: int) -> ServiceItemVersion:
    """The published version of an item, or 404 (never a draft)."""
    version = db.session.scalar(
        _display(select(ServiceItemVersion)).where(
            ServiceItemVersion.item_id == item_id, ServiceItemVersion.is_public.is_(True)
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
        select(ServiceItemVersion.department_id, Material.exemption_basis, func.count())
        .select_from(Material)
        .join(ServiceItemVersion, ServiceItemVersion.id == Material.version_id)
        .where(ServiceItemVersion.is_public.is_(True))
        .group_by(ServiceItemVersion.department_id, Material.exemption_basis)
    )
    item_rows = db.session.execute(
        select(ServiceItemVersion.department_id, func.count())
        .where(ServiceItemVersion.is_public.is_(True))
        .group_by(ServiceItemVersion.department_id)
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
