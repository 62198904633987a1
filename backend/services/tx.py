"""The one place that commits: a service function wrapped in ``transactional``."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

from flask import current_app
from sqlalchemy import Connection

from backend.extensions import db


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
