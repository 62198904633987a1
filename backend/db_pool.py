"""Checking pooled database connections only when they may have gone stale; a connection
of its own per thread for a hot path of single-statement writes.

``pool_pre_ping`` costs a round trip on every checkout, i.e. on every request. A connection
that was used a moment ago is almost certainly alive; one that sat idle may have been cut
(a database restart, a firewall's idle timeout). So the ping runs only for connections idle
longer than ``DB_PING_IDLE_S`` seconds (0: always, like ``pool_pre_ping``). A connection lost
while busy is caught by SQLAlchemy on use, the pool is emptied, and the request answers 503
``database_unavailable`` (``backend.errors``); the next one gets a fresh connection.

``OwnAutocommitConnections`` follows the same rules for the connections it keeps outside
the pool: pinged when idle that long, 503 when lost while busy, a fresh one next time.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

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


class OwnAutocommitConnections:
    """One autocommit connection per thread, outside the pool, for a hot path whose every
    write is a single statement and so a transaction of its own (issuing a certificate).

    Checking a pooled connection out, switching it to autocommit and back and returning it
    (with the pool's reset) cost about as much CPU as the statement itself; a connection the
    thread keeps, with its cursor, costs nothing per use. Each worker thread that uses it holds
    one connection more than its pool. It is made by the pool (same connect arguments and
    set-up) and detached from it, pinged like a pooled one when idle longer than ``idle_s``
    (and after a pooled connection was found lost), never used by a forked child, dropped
    when it is lost (which also empties the pool, as a lost pooled connection does), and
    closed when its thread ends or the engine is disposed (start-up, tests).
    """

    def __init__(self, engine: Engine, idle_s: float) -> None:
        self.engine = engine
        self.idle_s = idle_s
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: weakref.WeakSet[_OwnConnection] = weakref.WeakSet()
        self._lost_at = 0.0  # the last time a pooled connection was found lost
        event.listen(engine, "engine_disposed", lambda _engine: self.close_all())
        event.listen(engine, "invalidate", self._pooled_connection_lost)

    def _pooled_connection_lost(self, dbapi_connection, record, exception) -> None:
        # The database may have restarted: ping each own connection before its next use.
        self._lost_at = time.monotonic()

    @contextlib.contextmanager
    def cursor(self) -> Iterator[Any]:
        """This thread's cursor; driver errors come out as SQLAlchemy's (503 when lost)."""
        with self._using() as own:
            yield own.cursor

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        """This thread's psycopg connection itself, in autocommit (``conn.transaction()``
        groups statements), for callers with cursors of their own; errors as ``cursor``."""
        with self._using() as own:
            yield own.driver

    @contextlib.contextmanager
    def _using(self) -> Iterator[_OwnConnection]:
        own = self._current()

        def lost(error: BaseException) -> None:
            # As for a pooled connection: every pooled one is replaced before its next use.
            self.engine.pool._invalidate(own.fairy, error)
            own.close()

        try:
            with as_sqlalchemy_errors(self.engine, own.driver, lost):
                yield own
        finally:
            own.used = time.monotonic()

    def _current(self) -> _OwnConnection:
        own = getattr(self._local, "own", None)
        if own is not None and (own.pid != os.getpid() or own.closed):
            own = None  # a forked child never uses (nor closes) its parent's connection
        if own is not None and (
            time.monotonic() - own.used >= self.idle_s or own.used <= self._lost_at
        ):
            dialect = self.engine.dialect
            try:
                dialect.do_ping(own.driver)
            except dialect.loaded_dbapi.Error as error:
                if not dialect.is_disconnect(error, own.driver, None):
                    raise
                own.close()
                own = None
        if own is None:
            own = self._local.own = _OwnConnection(self.engine.raw_connection())
            with self._lock:
                self._all.add(own)
        return own

    def close_all(self) -> None:
        with self._lock:
            owned = list(self._all)
        for own in owned:
            own.close()


class _OwnConnection:
    """A detached connection; closed when dropped, disposed, or its thread has ended."""

    def __init__(self, fairy) -> None:
        fairy.detach()  # the pool forgets it; closing the fairy now closes the connection
        self.fairy = fairy
        self.driver = fairy.dbapi_connection  # psycopg's own connection
        self.pid = os.getpid()
        self.used = time.monotonic()
        self.driver.autocommit = True
        self.cursor = self.driver.cursor()
        self.close = weakref.finalize(self, _close, fairy, self.pid)

    @property
    def closed(self) -> bool:
        return not self.close.alive or self.driver.closed


def _close(fairy, pid: int) -> None:
    if pid == os.getpid():  # never from a forked child: the parent still uses it
        with contextlib.suppress(Exception):  # already lost: nothing left to close
            fairy.close()


@contextlib.contextmanager
def as_sqlalchemy_errors(engine: Engine, driver, lost: Callable[[BaseException], None]):
    """Errors of a statement sent through the driver directly, raised as SQLAlchemy raises
    them for its own: ``lost(error)`` first when the connection is gone (answered 503)."""
    dialect = engine.dialect
    try:
        yield
    except dialect.loaded_dbapi.Error as error:
        disconnect = dialect.is_disconnect(error, driver, None)
        if disconnect:
            lost(error)
        raise exc.DBAPIError.instance(
            None,
            None,
            error,
            dialect.loaded_dbapi.Error,
            connection_invalidated=disconnect,
            dialect=dialect,
        ) from error
