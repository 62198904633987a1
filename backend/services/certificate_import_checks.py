"""Checking a CSV of historic certificates before anything is imported.

The file as a whole first (size, encoding, CSV syntax, header), then every row against the
type's schema and the quality rules; rows are sorted into good, expired and bad, each bad
one with every problem (row, field, code). Nothing here writes.

Columns: ``paper_serial``, ``holder_name``, ``holder_id`` (ID number or credit code),
``issued_on``, optionally ``expires_on`` and ``paper_issued_at``, then the type's fields by
name. Row numbers are those a spreadsheet shows: the header is row 1 (unless blank rows come
first), and blank rows, skipped everywhere, still count.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from backend import clock
from backend.errors import AppError, UnprocessableEntity
from backend.models import CertificateType
from backend.services.certificate_bulk import find_persons
from backend.services.certificate_issuing import (
    check_holder,
    check_holder_fields,
    holder_identifier,
    parse_paper_issued_at,
)
from backend.services.certificate_schema import Problem, check_certificate_data, check_validity
from backend.validation import refuse_nul_in_upload

REQUIRED_COLUMNS = ("paper_serial", "holder_name", "holder_id", "issued_on")
OPTIONAL_COLUMNS = ("expires_on", "paper_issued_at")
MAX_PAPER_SERIAL = 64
# Progress callback: (stage "check" | "seal", rows done since the last call, stage total).
ImportProgress = Callable[[str, int, int], None]


class FileTooLarge(AppError):
    status_code = 413
    code = "file_too_large"


def _file_error(code: str, message: str, **extra: Any) -> UnprocessableEntity:
    return UnprocessableEntity(message, code=code, field="file", **extra)


@dataclass
class RowProblem:
    row: int
    field: str
    code: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "code": self.code, "message": self.message}


@dataclass
class GoodRow:
    row: int
    paper_serial: str
    holder_id: str
    holder_name: str
    fields: dict[str, Any]
    issued_on: date
    expires_on: date | None
    paper_issued_at: datetime


@dataclass
class CheckedFile:
    """Every row sorted into good, expired or bad (with its problems)."""

    rows_total: int = 0
    good: list[GoodRow] = field(default_factory=list)
    expired: list[dict[str, Any]] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    # Persons already known, by ID number (found while checking names; reused to store).
    known_persons: dict[str, int] = field(default_factory=dict)

    @property
    def bad_rows(self) -> int:
        return len({p.row for p in self.problems})


# --- the file as a whole ------------------------------------------------------------------


# (row number as a spreadsheet shows it, cells): blank rows are dropped but still counted.
Table = list[tuple[int, list[str]]]


def read_table(raw: bytes, *, max_bytes: int | None, max_rows: int | None) -> Table:
    """Header and rows of a UTF-8 CSV (BOM allowed), blank lines dropped, or the file-level
    error. The table always has its header row: no header is ``empty_file``."""
    if max_bytes is not None and len(raw) > max_bytes:
        raise FileTooLarge(
            f"文件过大:不能超过 {max_bytes // 1024} KB", field="file", limit_bytes=max_bytes
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _file_error(
            "invalid_encoding", "文件不是 UTF-8 编码,请另存为 UTF-8 格式的 CSV"
        ) from exc
    refuse_nul_in_upload(text)
    try:
        table = [
            (number, row)
            for number, row in enumerate(
                csv.reader(io.StringIO(text, newline=""), strict=True), start=1
            )
            if any(cell.strip() for cell in row)
        ]
    except csv.Error as exc:
        raise _file_error("malformed_csv", "文件不是有效的 CSV") from exc
    # The one emptiness rule: nothing but a BOM, line ends, spaces or empty cells.
    if not table:
        raise _file_error("empty_file", "文件为空:没有表头,也没有数据行")
    if max_rows is not None and len(table) - 1 > max_rows:
        raise FileTooLarge(
            f"行数过多:一次最多导入 {max_rows} 行",
            code="too_many_rows",
            field="file",
            limit_rows=max_rows,
        )
    return table


def check_header(cert_type: CertificateType, header: list[str]) -> list[str]:
    """The header, stripped; 422 ``invalid_header`` naming every missing or unknown column."""
    header = [h.strip() for h in header]
    field_names = cert_type.field_names()
    allowed = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS) | set(field_names)
    needed = list(REQUIRED_COLUMNS) + [f["name"] for f in cert_type.fields if f.get("required")]
    details = [
        {"field": c, "code": "missing_column", "message": f"缺少列:{c}"}
        for c in needed
        if c not in header
    ]
    details += [
        {"field": c, "code": "unknown_column", "message": f"不认识的列:{c}"}
        for c in header
        if c not in allowed
    ]
    details += [
        {"field": c, "code": "duplicate_column", "message": f"列重复:{c}"}
        for c in sorted({c for c in header if header.count(c) > 1})
    ]
    if details:
        raise UnprocessableEntity(
            "表头与证照类型不符:" + details[0]["message"],
            code="invalid_header",
            field="file",
            details=details,
            expected=list(REQUIRED_COLUMNS) + list(OPTIONAL_COLUMNS) + field_names,
        )
    return header


# --- rows ---------------------------------------------------------------------------------


def source_key(cert_type: CertificateType, paper_serial: str) -> str:
    """Natural key of an imported paper certificate: type and paper serial, hashed."""
    return hashlib.sha256(f"{cert_type.code}\x1f{paper_serial}".encode()).hexdigest()


def _check_row(
    cert_type: CertificateType, number: int, values: dict[str, str], today: date
) -> tuple[GoodRow | None, list[Problem]]:
    field_names = set(cert_type.field_names())
    data = {k: v for k, v in values.items() if k in field_names}
    problems: list[Problem] = []
    paper_serial = values["paper_serial"].strip()
    if not paper_serial:
        problems.append(Problem("paper_serial", "missing_field", "缺少纸质证照编号"))
    elif len(paper_serial) > MAX_PAPER_SERIAL:
        problems.append(Problem("paper_serial", "value_too_long", "纸质证照编号过长"))
    name = values["holder_name"].strip()
    key = "id_number" if cert_type.holder_kind == "person" else "credit_code"
    holder = {key: values["holder_id"], "name": name}
    columns = {"holder.name": "holder_name", f"holder.{key}": "holder_id"}
    problems += [
        Problem(columns.get(p.field, p.field), p.code, p.message)
        for p in check_holder(cert_type, holder)
    ]
    cleaned, field_problems = check_certificate_data(cert_type, data)
    problems += field_problems
    issued_raw = values["issued_on"].strip()
    issued = expires = None
    if not issued_raw:
        problems.append(Problem("issued_on", "missing_field", "缺少发证日期"))
    else:
        issued, expires, date_problems = check_validity(
            cert_type, cleaned, issued_raw, values.get("expires_on"), today=today
        )
        problems += date_problems
    paper_at, paper_problem = parse_paper_issued_at(values.get("paper_issued_at"))
    if paper_problem:
        problems.append(paper_problem)
    if problems:
        return None, problems
    identifier = holder_identifier(cert_type, holder)
    problems = check_holder_fields(cert_type, identifier, cleaned)
    if problems:
        return None, problems
    return (
        GoodRow(
            row=number,
            paper_serial=paper_serial,
            holder_id=identifier,
            holder_name=name,
            fields=cleaned,
            issued_on=issued,
            expires_on=expires,
            paper_issued_at=paper_at or datetime.combine(issued, time(0), tzinfo=clock.SHANGHAI),
        ),
        [],
    )


def check_rows(
    cert_type: CertificateType,
    table: Table,
    progress: ImportProgress | None = None,
) -> CheckedFile:
    """Sort every row into good, expired or bad; nothing is written. ``table`` comes from
    ``read_table``, which guarantees the header row."""
    header = check_header(cert_type, table[0][1])
    rows = table[1:]
    if not rows:
        raise _file_error("no_rows", "文件只有表头,没有数据行")
    today = clock.now().astimezone(clock.SHANGHAI).date()
    checked = CheckedFile(rows_total=len(rows))
    serials: dict[str, int] = {}
    for index, (number, cells) in enumerate(rows):
        if progress is not None and index and index % 1000 == 0:
            progress("check", 1000, len(rows))
        if len(cells) != len(header):
            checked.problems.append(
                RowProblem(
                    number,
                    "row",
                    "malformed_row",
                    f"该行有 {len(cells)} 列,表头有 {len(header)} 列",
                )
            )
            continue
        good, problems = _check_row(cert_type, number, dict(zip(header, cells, strict=True)), today)
        if good is not None and good.paper_serial in serials:
            problems = [
                Problem(
                    "paper_serial",
                    "duplicate_row",
                    f"纸质证照编号与第 {serials[good.paper_serial]} 行重复",
                )
            ]
            good = None
        checked.problems += [RowProblem(number, p.field, p.code, p.message) for p in problems]
        if good is None:
            continue
        serials[good.paper_serial] = number
        if good.expires_on is not None and good.expires_on < today:
            checked.expired.append(
                {
                    "row": number,
                    "paper_serial": good.paper_serial,
                    "expires_on": good.expires_on.isoformat(),
                }
            )
        else:
            checked.good.append(good)
    if progress is not None:
        progress("check", len(rows) - (len(rows) - 1) // 1000 * 1000, len(rows))
    _check_holder_names(cert_type, checked)
    return checked


def _check_holder_names(cert_type: CertificateType, checked: CheckedFile) -> None:
    """A known person's name must match; one ID number means one name within the file too."""
    if cert_type.holder_kind != "person":
        return
    known = find_persons(r.holder_id for r in checked.good)
    checked.known_persons = {k: v[0] for k, v in known.items()}
    first_name: dict[str, str] = {k: v[1] for k, v in known.items()}
    keep = []
    for good in checked.good:
        expected = first_name.setdefault(good.holder_id, good.holder_name)
        if expected != good.holder_name:
            checked.problems.append(
                RowProblem(good.row, "holder_name", "identity_mismatch", "姓名与公民身份号码不一致")
            )
        else:
            keep.append(good)
    checked.good = keep
    checked.problems.sort(key=lambda p: p.row)
