"""The token store's Lua scripts, run on a connection each thread keeps for them.

Why not ``Script.__call__``: redis-py's per-command path (a pool checkout that inspects its
arguments for deprecations, the retry wrapper, metrics hooks, the release) costs about three
times the round trip itself; a scan and a shown code each run one script. Here a script is
one ``EVALSHA`` on the thread's own connection, with redis-py still packing the command,
parsing the reply (hiredis) and checking an idle connection's health.

A script is never retried: it consumes one-time codes, and a reply lost after the server ran
it must not turn into a second run. A failed connection is dropped; the next call opens a new
one (``TokenStoreUnavailable`` is the caller's business). As the pool does at checkout, a
connection the server closed meanwhile (a restart) is noticed before sending and replaced.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError


class ScriptRunner:
    """Runs scripts registered on ``client`` outside its pool, one connection per thread."""

    def __init__(self, client: redis.Redis) -> None:
        pool = client.connection_pool
        self._connection_class = pool.connection_class
        self._connection_kwargs = dict(pool.connection_kwargs)
        self._local = threading.local()

    def _connection(self) -> redis.connection.AbstractConnection:
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is None or local.pid != os.getpid():  # a forked child never shares a socket
            conn = local.conn = self._connection_class(**self._connection_kwargs)
            local.pid = os.getpid()
        try:  # connects if needed; a closed or garbled one reads as ready, or fails
            if conn.can_read(timeout=0):
                raise redis.ConnectionError("unexpected data on an idle connection")
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            conn.disconnect()  # send_command opens a new one
        return conn

    def run(self, script: Script, keys: list, args: list) -> Any:
        conn = self._connection()
        try:
            conn.send_command("EVALSHA", script.sha, len(keys), *keys, *args)
            try:
                return conn.read_response()
            except NoScriptError:  # a restarted or flushed server: EVAL caches it again
                conn.send_command("EVAL", script.script, len(keys), *keys, *args)
                return conn.read_response()
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            conn.disconnect()
            raise

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.disconnect()
