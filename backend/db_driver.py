"""SQLAlchemy Core statements run on the bare psycopg connection, for the hottest paths.

A statement through SQLAlchemy costs about 95 µs of CPU, the same through psycopg about
40 µs, and a session's begin/commit cycle another 250 µs: on a scan that is most of the
request. The statements are still written once, in SQLAlchemy Core, next to the models;
``execute`` compiles each once to PostgreSQL text and applies its bind processors (aware
datetimes to naive UTC, JSON), so a rule never gets a second, hand-written SQL copy.

PostgreSQL only: callers keep their ordinary session path for SQLite.
"""

from __future__ import annotations

from typing import Any

import psycopg
from flask import current_app
from psycopg.rows import namedtuple_row
from sqlalchemy import (
    ARRAY,
    Integer,
    String,
    TypeDecorator,
    any_,
    bindparam,
    cast,
    inspect,
    select,
)
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.sql import ClauseElement

from backend.extensions import db

_compiled: dict[int, tuple[ClauseElement, str, dict[str, Any], dict[str, Any], _Rows]] = {}
# A cursor per connection and statement, kept with its row factory on the connection
# itself, so it goes when the connection goes (a new cursor per run cost 20 µs of CPU, a
# third of running ``SELECT 1``). A statement's rows are fetched before it runs again on
# the same connection.
_CURSORS = "_db_driver_cursors"


def usable() -> bool:
    return db.engine.dialect.name == "postgresql"


def connection():
    """This worker thread's own autocommit connection (``db_pool.OwnAutocommitConnections``,
    shared with issuing): no pool checkout, no autocommit switch, no reset per use. One
    statement is one transaction; ``with conn.transaction():`` groups several. Driver
    errors come out as SQLAlchemy's, so a lost connection answers 503
    ``database_unavailable`` like the session's statements (``backend.errors``)."""
    return current_app.extensions["own_autocommit_connections"].connection()


class IdList(TypeDecorator):
    """A list of ids bound as one PostgreSQL array literal (``'{1,2}'``): psycopg adapts
    that string several times faster than a Python list. Use through ``id_list``."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return "{" + ",".join(str(int(v)) for v in value) + "}"


def id_list(name: str):
    """``= any_(id_list("ids"))``: a driver statement's list parameter of integer ids."""
    return cast(bindparam(name, type_=IdList()), ARRAY(Integer))


class ByIds:
    """A driver statement filtered by a list of ids, built once in two forms: ``id = :id``
    for one id (the usual code shows one certificate) and ``id = ANY(:ids)`` for several.
    Prepared by psycopg, the first keeps one generic plan; for the second PostgreSQL expects
    ten rows, prefers a custom plan and re-plans on every run, which for a scan's six-table
    load cost four times running it."""

    def __init__(self, statement, column) -> None:
        self.one = statement.where(column == bindparam("id"))
        self.many = statement.where(column == any_(id_list("ids")))

    def pick(self, ids: list[int]) -> tuple[ClauseElement, dict[str, Any]]:
        """The statement for these ids and its id parameter."""
        if len(ids) == 1:
            return self.one, {"id": ids[0]}
        return self.many, {"ids": list(ids)}


class _Rows:
    """A statement's row factory: ``namedtuple_row``'s row class, made from the first
    result and kept, since a statement's columns never change (``namedtuple_row`` reads
    and looks up every column name again on each run)."""

    __slots__ = ("make",)

    def __init__(self) -> None:
        self.make = None

    def __call__(self, cursor):
        make = self.make
        if make is None:
            make = namedtuple_row(cursor)
            if cursor.pgresult is not None and cursor.pgresult.nfields:
                self.make = make
        return make


def _compile(statement: ClauseElement) -> tuple[str, dict[str, Any], dict[str, Any], _Rows]:
    """The statement's text, its bind processors, the values of its literals and its row
    factory."""
    found = _compiled.get(id(statement))
    if found is None or found[0] is not statement:
        compiled = statement.compile(dialect=db.engine.dialect)
        processors = dict(compiled._bind_processors)  # SQLAlchemy's own, stable in 2.x
        defaults = {
            name: value
            for name, value in compiled.construct_params(_check=False).items()
            if value is not None
        }
        found = (statement, compiled.string, processors, defaults, _Rows())
        _compiled[id(statement)] = found
    return found[1], found[2], found[3], found[4]


def execute(conn: psycopg.Connection, statement: ClauseElement, params: dict[str, Any]):
    """Run a Core statement (built once, at import or in a cached builder) with ``params``
    on the driver; returns the connection's psycopg cursor, rows named like the
    statement's columns (fetch them before the statement runs again on ``conn``). Expanding
    ``IN`` lists are not supported: use ``= ANY(:list)`` in statements meant for this."""
    sql, processors, defaults, rows = _compile(statement)
    if defaults:
        params = {**defaults, **params}
    if processors:
        params = {
            key: (processors[key](value) if key in processors and value is not None else value)
            for key, value in params.items()
        }
    cursors: dict[_Rows, psycopg.Cursor] | None = getattr(conn, _CURSORS, None)
    if cursors is None:
        cursors = {}
        setattr(conn, _CURSORS, cursors)
    cursor = cursors.get(rows)
    if cursor is None or cursor.closed:
        cursor = cursors[rows] = conn.cursor(row_factory=rows)
    return cursor.execute(sql, params)


def first_row(statement: ClauseElement, params: dict[str, Any], conn=None):
    """The first row of a look-up: on a hot path's driver connection ``conn``, else on
    the session (in its transaction)."""
    if conn is None:
        return db.session.execute(statement, params).first()
    return execute(conn, statement, params).fetchone()


def fetch_all(driver_statement: ClauseElement, statement: ClauseElement, params: dict[str, Any]):
    """A hot path's read, outside any transaction (no BEGIN/COMMIT): ``driver_statement``
    on the driver on PostgreSQL, ``statement`` (the same query, e.g. with an expanding
    ``IN``) through SQLAlchemy elsewhere."""
    if usable():
        with connection() as conn:
            return execute(conn, driver_statement, params).fetchall()
    from backend.services.tx import autocommit_reads

    with autocommit_reads() as session_connection:
        return session_connection.execute(statement, params).all()


_row_readers: dict[type, tuple[ClauseElement, list[tuple[str, Any]]]] = {}


def get_detached(model: type, primary_key: int):
    """One row of ``model`` by primary key as a detached instance (``None`` if absent),
    read on the driver: the ORM's identity-map load costs several times the query.
    ``session.merge(instance, load=False)`` makes it persistent without a query."""
    reader = _row_readers.get(model)
    if reader is None:
        mapper = inspect(model)
        table = mapper.local_table
        statement = select(*(a.columns[0] for a in mapper.column_attrs)).where(
            table.primary_key.columns[0] == bindparam("pk")
        )
        dialect = db.engine.dialect
        columns = [
            (attribute.key, attribute.columns[0].type.result_processor(dialect, None))
            for attribute in mapper.column_attrs
        ]
        reader = _row_readers[model] = (statement, columns)
    statement, columns = reader
    rows = fetch_all(statement, statement, {"pk": primary_key})
    if not rows:
        return None
    values = {
        key: process(value) if process is not None and value is not None else value
        for (key, process), value in zip(columns, rows[0], strict=True)
    }
    instance = inspect(model).class_manager.new_instance()
    instance.__dict__.update(values)
    make_transient_to_detached(instance)
    return instance
