"""The one place that commits: a service function wrapped in ``transactional``."""

from __future__ import annotations

import functools

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
