"""Checking pooled database connections only when they may have gone stale.

``pool_pre_ping`` costs a round trip on every checkout, i.e. on every request. A connection
that was used a moment ago is almost certainly alive; one that sat idle may have been cut
(a database restart, a firewall's idle timeout). So the ping runs only for connections idle
longer than ``DB_PING_IDLE_S`` seconds (0: always, like ``pool_pre_ping``). A connection lost
while busy is caught by SQLAlchemy on use, the pool is emptied, and the request answers 503
``database_unavailable`` (``backend.errors``); the next one gets a fresh connection.
"""

from __future__ import annotations

import time

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

_CHECKED_IN_AT = "certfree_checked_in_at"


def install_idle_ping(engine: Engine, idle_s: float) -> None:
    """Ping a connection at checkout when it has been idle in the pool for ``idle_s``."""

    @event.listens_for(engine, "checkin")
    def _remember(dbapi_connection, record) -> None:
        if record is not None:
            record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, proxy) -> None:
        checked_in = record.info.get(_CHECKED_IN_AT)
        if checked_in is not None and time.monotonic() - checked_in < idle_s:
            return
        dialect = engine.dialect
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if not dialect.is_disconnect(error, dbapi_connection, None):
                raise
            # The pool discards this connection and checks out another (up to three tries).
            raise exc.DisconnectionError() from error
