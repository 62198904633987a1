"""Bulk import and export of one department's item catalogue, as CSV or JSON.

The file is checked completely before anything is written: every bad row is reported with
its row, field and reason, and a file with any bad row imports nothing. Items are matched
by handling-item name within the department: new names are created as drafts, drafts and
returned items are updated, published items get a revision, unchanged items are left alone.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from backend import clock
from backend.errors import AppError, Forbidden, UnprocessableEntity
from backend.extensions import db
from backend.models import Department, Role, User
from backend.models.service_items import ItemState, Material, ServiceItem, ServiceItemVersion
from backend.services.service_item_content import Lookups, check_content, version_content
from backend.services.service_items import (
    EDITABLE_STATES,
    change_content,
    latest_version,
    new_item,
    start_revision,
)
from backend.services.tx import transactional
from backend.validation import refuse_nul, refuse_nul_in_upload

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 20_000
MAX_REPORTED_PROBLEMS = 1000
CSV_COLUMNS = [
    "category",
    "main_item",
    "sub_item",
    "handling_item",
    "material",
    "issuing_department",
    "certificate_type",
    "certificate_fields",
    "exemption_basis",
    "required",
    "notes",
]
ITEM_COLUMNS = ("category", "main_item", "sub_item", "handling_item")
# CSV column of each material field (the rest have the same name).
_MATERIAL_COLUMN = {"name": "material"}
_TRUE = {"", "true", "1", "是", "yes", "y"}
_FALSE = {"false", "0", "否", "no", "n"}
_FORMULA_START = ("=", "+", "-", "@")


def _department_for(caller: User, department_code: str | None) -> Department:
    """An officer's own department; the supervisor names one."""
    if caller.role == Role.DEPARTMENT_OFFICER:
        if department_code and department_code != caller.department.code:
            raise Forbidden("只能导出本部门的事项", code="not_your_department")
        return caller.department
    if not department_code:
        raise UnprocessableEntity("请指定部门", code="missing_field", field="department")
    department = db.session.scalar(select(Department).where(Department.code == department_code))
    if department is None:
        raise UnprocessableEntity("部门不存在", code="unknown_department", field="department")
    return department


def export_catalogue(caller: User, department_code: str | None) -> dict[str, Any]:
    """The latest version of every item of the department, in the import's JSON shape."""
    department = _department_for(caller, department_code)
    versions = db.session.scalars(
        select(ServiceItemVersion)
        .join(
            ServiceItem,
            (ServiceItem.id == ServiceItemVersion.item_id)
            & (ServiceItem.latest_number == ServiceItemVersion.number),
        )
        .where(ServiceItem.department_id == department.id)
        .order_by(ServiceItem.id)
        .options(selectinload(ServiceItemVersion.materials).selectinload(Material.certificate_type))
    )
    return {
        "department": department.code,
        "exported_at": clock.to_local(clock.now()),
        "items": [version_content(v) for v in versions],
    }


def _safe(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def catalogue_csv(export: dict[str, Any]) -> str:
    """The exported catalogue as CSV (UTF-8 with BOM), one row per material."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for item in export["items"]:
        for m in item["materials"]:
            writer.writerow(
                [_safe(item[c]) for c in ITEM_COLUMNS]
                + [
                    _safe(m["name"]),
                    _safe(m["issuing_department"] or ""),
                    m["certificate_type"] or "",
                    _safe(";".join(m["certificate_fields"])),
                    m["exemption_basis"] or "",
                    "是" if m["required"] else "否",
                    _safe(m["notes"]),
                ]
            )
    return buffer.getvalue()


# ---------------------------------------------------------------- reading files


def _rejected(message: str, code: str, field: str | None = None) -> AppError:
    return UnprocessableEntity(message, code=code, field=field)


def _unsafe(text: str) -> str:
    """Undo the export's formula guard."""
    if text.startswith("'") and text[1:].startswith(_FORMULA_START):
        return text[1:]
    return text


def _read_csv(raw: bytes) -> list[tuple[list[int], dict, list[dict]]]:
    """CSV rows grouped into items: (row numbers, content, problems found while grouping)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _rejected("文件须为 UTF-8 编码的 CSV", "invalid_encoding") from exc
    refuse_nul_in_upload(text)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip() for h in next(reader, [])]
    except csv.Error as exc:
        raise _rejected("CSV 格式错误:表头无法解析", "invalid_file") from exc
    missing = [c for c in CSV_COLUMNS if c not in header]
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if missing or unknown:
        parts = []
        if missing:
            parts.append("缺少列:" + "、".join(missing))
        if unknown:
            parts.append("不认识的列:" + "、".join(unknown))
        raise _rejected(";".join(parts), "invalid_header", field="header")
    try:
        return _group_rows(reader, header)
    except csv.Error as exc:
        raise _rejected(f"CSV 格式错误:第 {reader.line_num} 行", "invalid_file") from exc


def _group_rows(reader, header: list[str]) -> list[tuple[list[int], dict, list[dict]]]:
    groups: dict[str, tuple[list[int], dict, list[dict]]] = {}
    for line_no, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if line_no - 1 > MAX_IMPORT_ROWS:
            raise _rejected(f"一次最多导入 {MAX_IMPORT_ROWS} 行", "too_many_rows")
        row = {h: _unsafe(v.strip()) for h, v in zip(header, values, strict=False)}
        problems: list[dict] = []
        if len(values) != len(header):
            problems.append(_row_problem(line_no, "row", "invalid_row", "列数与表头不一致"))
        required = row.get("required", "").lower()
        if required not in _TRUE | _FALSE:
            problems.append(
                _row_problem(line_no, "required", "invalid_value", "是否必需应为 是 或 否")
            )
        material = {
            "name": row.get("material", ""),
            "issuing_department": row.get("issuing_department") or None,
            "certificate_type": row.get("certificate_type") or None,
            "certificate_fields": [
                f.strip()
                for f in row.get("certificate_fields", "").replace(";", ";").split(";")
                if f.strip()
            ],
            "exemption_basis": row.get("exemption_basis") or None,
            "required": required not in _FALSE,
            "notes": row.get("notes", ""),
        }
        key = row.get("handling_item", "")
        if key not in groups:
            content = {c: row.get(c, "") for c in ITEM_COLUMNS}
            content["materials"] = []
            groups[key] = ([], content, [])
        rows, content, group_problems = groups[key]
        for column in ("category", "main_item", "sub_item"):
            if row.get(column, "") != content[column]:
                problems.append(
                    _row_problem(
                        line_no,
                        column,
                        "inconsistent_item",
                        f"同一办理项「{key}」的{column}与第 {rows[0]} 行不一致",
                    )
                )
        rows.append(line_no)
        content["materials"].append(material)
        group_problems.extend(problems)
    return list(groups.values())


def _read_json(raw: bytes, department: Department) -> list[tuple[list[int], dict, list[dict]]]:
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _rejected("文件不是合法的 UTF-8 JSON", "invalid_file") from exc
    refuse_nul(data)
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise _rejected("JSON 须为包含 items 数组的对象", "invalid_file", field="items")
    unknown = sorted(set(data) - {"department", "exported_at", "items"})
    if unknown:
        raise _rejected("不允许的字段:" + "、".join(unknown), "unknown_field", field=unknown[0])
    if data.get("department") not in (None, department.code):
        raise _rejected("文件所属部门与当前部门不一致", "department_mismatch", "department")
    if len(data["items"]) > MAX_IMPORT_ROWS:
        raise _rejected(f"一次最多导入 {MAX_IMPORT_ROWS} 个事项", "too_many_rows")
    return [([n], item, []) for n, item in enumerate(data["items"], start=1)]


def _row_problem(row: int, field: str, code: str, message: str) -> dict[str, Any]:
    return {"row": row, "field": field, "code": code, "message": message}


def _locate(problem: dict, rows: list[int], is_csv: bool) -> dict[str, Any]:
    """Turn a content problem ("materials.2.certificate_type") into a row and field."""
    field = problem["field"]
    row = rows[0]
    if is_csv and field.startswith("materials."):
        parts = field.split(".")
        index = int(parts[1])
        row = rows[index] if index < len(rows) else rows[0]
        field = _MATERIAL_COLUMN.get(parts[2], parts[2]) if len(parts) > 2 else "material"
    return _row_problem(row, field, problem["code"], problem["message"])


# ---------------------------------------------------------------- import


@transactional
def import_catalogue(officer: User, raw: bytes, media_type: str) -> dict[str, Any]:
    """Import a CSV or JSON catalogue for the officer's department: all items, or none."""
    if officer.role != Role.DEPARTMENT_OFFICER or officer.department is None:
        raise Forbidden("只有部门工作人员可以导入事项", code="not_your_department")
    department = officer.department
    if media_type not in ("text/csv", "application/json"):
        raise AppError(
            "请以 text/csv 或 application/json 上传事项目录",
            code="unsupported_media_type",
            status_code=415,
        )
    if len(raw) > MAX_IMPORT_BYTES:
        raise AppError(
            f"导入文件不能超过 {MAX_IMPORT_BYTES // (1024 * 1024)} MB",
            code="payload_too_large",
            status_code=413,
        )
    if not raw.strip():
        raise _rejected("导入文件为空", "empty_file")
    is_csv = media_type == "text/csv"
    groups = _read_csv(raw) if is_csv else _read_json(raw, department)
    lookups = Lookups.load()
    existing = {
        item.handling_item: item
        for item in db.session.scalars(
            select(ServiceItem).where(ServiceItem.department_id == department.id).with_for_update()
        )
    }
    problems: list[dict[str, Any]] = []
    plan: list[tuple[ServiceItem | None, dict]] = []
    seen: dict[str, int] = {}
    for rows, content, group_problems in groups:
        problems.extend(group_problems)
        normalised, content_problems = check_content(content, lookups)
        problems.extend(_locate(p, rows, is_csv) for p in content_problems)
        if content_problems:
            continue
        name = normalised["handling_item"]
        if name in seen:
            problems.append(
                _row_problem(
                    rows[0],
                    "handling_item",
                    "duplicate_handling_item",
                    f"文件中办理项「{name}」重复(第 {seen[name]} 项)",
                )
            )
            continue
        seen[name] = rows[0]
        item = existing.get(name)
        if item is not None and item.state not in (*EDITABLE_STATES, ItemState.PUBLISHED):
            problems.append(
                _row_problem(
                    rows[0],
                    "handling_item",
                    "invalid_state",
                    f"办理项「{name}」正在审核或待发布,不能导入修改",
                )
            )
            continue
        plan.append((item, normalised))
    if problems:
        problems.sort(key=lambda p: p["row"])
        raise UnprocessableEntity(
            f"导入文件有 {len(problems)} 处错误,未导入任何事项",
            code="import_rejected",
            details=problems[:MAX_REPORTED_PROBLEMS],
            error_count=len(problems),
        )
    report = {"created": 0, "updated": 0, "revised": 0, "unchanged": 0, "item_ids": []}
    for item, content in plan:
        if item is None:
            item = new_item(department, content, lookups, officer, action="imported")
            report["created"] += 1
        elif version_content(latest_version(item)) == content:
            report["unchanged"] += 1
        elif item.state == ItemState.PUBLISHED:
            start_revision(item, officer)
            change_content(item, content, lookups, officer, action="imported")
            report["revised"] += 1
        else:
            change_content(item, content, lookups, officer, action="imported")
            report["updated"] += 1
        report["item_ids"].append(item.id)
    return report
