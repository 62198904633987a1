"""The one place that commits: a service function wrapped in ``transactional``."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

from flask import current_app
from sqlalchemy import Connection, event
from sqlalchemy.orm import Session

from backend.extensions import db

# session.info key: a database transaction is open on one of the session's connections.
_DATABASE_TRANSACTION = "certfree.database_transaction"


def transactional(fn):
    """Commit when the function returns, roll back on any exception: never half-written data.

    Nested calls join the outermost transaction and commit once.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        info = db.session.info
        if info.get("in_transaction"):
            return fn(*args, **kwargs)
        info["in_transaction"] = True
        try:
            result = fn(*args, **kwargs)
            db.session.commit()
            return result
        except BaseException:
            db.session.rollback()
            raise
        finally:
            info["in_transaction"] = False

    return wrapper


@event.listens_for(Session, "after_begin")
def _database_transaction_begun(session: Session, transaction, connection) -> None:
    session.info[_DATABASE_TRANSACTION] = True


@event.listens_for(Session, "after_transaction_end")
def _transaction_ended(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost one: committed, rolled back or closed
        session.info.pop(_DATABASE_TRANSACTION, None)


def session_untouched() -> bool:
    """This request's session has nothing that committing it would write: no database
    transaction begun and no pending change. (An object merged without a query, such as the
    cached caller, starts no database transaction.)"""
    session = db.session()
    return not (
        session.info.get(_DATABASE_TRANSACTION) or session.new or session.dirty or session.deleted
    )


@contextlib.contextmanager
def autocommit_reads() -> Iterator[Connection]:
    """A pooled connection outside any transaction, for a hot path's one-off reads.

    The session would wrap even a single SELECT in BEGIN ... ROLLBACK and its own
    bookkeeping, which costs more than the query (showing a code). Reads only: anything
    written here commits at once, outside the caller's transaction.
    """
    engine = current_app.extensions.get("autocommit_engine")
    if engine is None:
        engine = db.engine.execution_options(isolation_level="AUTOCOMMIT")
        current_app.extensions["autocommit_engine"] = engine
    with engine.connect() as connection:
        yield connection
