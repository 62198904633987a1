"""Writing many rows in the session's transaction, fast on PostgreSQL and correct elsewhere.

PostgreSQL: ids reserved from the table's sequence in one query, rows streamed with binary
COPY (psycopg re-parses every multi-row INSERT, which dominated large imports), look-ups
with ``= ANY(array)``. Other databases: SQLAlchemy's multi-row INSERTs and ``IN``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Integer,
    LargeBinary,
    String,
    Table,
    any_,
    bindparam,
    insert,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY

from backend.extensions import db
from backend.models.base import UTCDateTime

RESERVE_IDS = text(
    "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
)


def _naive_utc(value: datetime | None) -> datetime | None:
    """UTCDateTime's storage form (COPY bypasses the column type)."""
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def is_postgresql() -> bool:
    return db.session.connection().dialect.name == "postgresql"


def reserve_ids(table: Table, count: int) -> list[int]:
    """PostgreSQL: ``count`` new ids from the table's sequence, in one query."""
    result = db.session.connection().execute(RESERVE_IDS, {"table": table.name, "n": count})
    return list(result.scalars())


def _pg_type(column_type) -> str:
    """The PostgreSQL type name binary COPY needs for a column of these tables."""
    for kind, name in (
        (UTCDateTime, "timestamp"),
        (Boolean, "bool"),
        (Integer, "int4"),
        (LargeBinary, "bytea"),
        (Date, "date"),
        (String, "varchar"),
    ):
        if isinstance(column_type, kind):
            return name
    raise TypeError(f"no COPY type for {column_type!r}")


def copy_rows(table: Table, rows: Iterable[dict[str, Any]]) -> None:
    """PostgreSQL COPY of dict rows (all with the keys of the first), streamed as produced,
    so the server ingests while the caller is still computing the next rows."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    columns = list(first)
    moments = [c for c in columns if isinstance(table.c[c].type, UTCDateTime)]
    names = ", ".join(f'"{c}"' for c in columns)
    statement = f'COPY "{table.name}" ({names}) FROM STDIN (FORMAT BINARY)'
    raw = db.session.connection().connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        # Binary: no text escaping of the (encrypted) payloads on either side.
        copy.set_types([_pg_type(table.c[c].type) for c in columns])
        for row in itertools.chain((first,), rows):
            for name in moments:
                row[name] = _naive_utc(row[name])
            copy.write_row([row[c] for c in columns])


def insert_rows(table: Table, rows: list[dict[str, Any]], *, returning_ids: bool = False) -> list:
    """Insert rows in the session's transaction; with ``returning_ids``, their new ids in order.

    PostgreSQL: ids reserved from the sequence, then COPY (psycopg re-parses every multi-row
    INSERT, which dominated large imports). Elsewhere: multi-row INSERTs with RETURNING.
    """
    if not rows:
        return []
    if is_postgresql():
        ids: list[int] = []
        if returning_ids:
            ids = reserve_ids(table, len(rows))
            for row, new_id in zip(rows, ids, strict=True):
                row["id"] = new_id
        copy_rows(table, rows)
        return ids
    connection = db.session.connection()
    if not returning_ids:
        connection.execute(insert(table), rows)
        return []
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(connection.execute(statement, rows).scalars())


def member_of(column, values: Sequence[str]):
    """``column IN values``; on PostgreSQL ``= ANY(array)``, one parameter however many values
    (psycopg parses a statement with thousands of placeholders slowly)."""
    if db.session.connection().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)
