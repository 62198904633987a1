"""The token store's scripts on each thread's own connection (backend/redis_scripts.py):
a flushed script cache, a restarted or stalled server, and forked workers."""

from __future__ import annotations

import os
import signal
import time

import pytest
import redis

from backend.errors import TokenStoreUnavailable
from backend.token_store import RedisTokenStore
from tests.conftest import TEST_REDIS_URL


@pytest.fixture
def make_store():
    stores: list[RedisTokenStore] = []

    def make(url: str = TEST_REDIS_URL, **options) -> RedisTokenStore:
        stores.append(RedisTokenStore(url, **options))
        return stores[-1]

    yield make
    for store in stores:
        store.close()


def test_a_flushed_script_cache_is_filled_again(make_store):
    store = make_store()
    store.set("scripts:code", "record", 60)
    store.client.script_flush()
    assert store.take_and_set("scripts:code", "scripts:outcome", "used", 60) == "record"
    assert store.get("scripts:outcome") == "used"
    assert store.take_and_set("scripts:code", "scripts:outcome", "used", 60) is None


def test_a_restarted_server_is_reached_again_without_a_failed_request(make_store, throwaway_redis):
    store = make_store(throwaway_redis.url, timeout_s=0.5)
    store.set("code", "first", 60)
    assert store.take_and_set("code", "outcome", "used", 60) == "first"
    throwaway_redis.stop()
    throwaway_redis.start()  # the thread's connection now points at a closed socket
    store.set("code", "second", 60)
    assert store.take_and_set("code", "outcome", "used", 60) == "second"


def test_a_stopped_server_fails_closed_and_the_next_call_after_it_returns_works(
    make_store, throwaway_redis
):
    store = make_store(throwaway_redis.url, timeout_s=0.5)
    store.set("code", "first", 60)
    throwaway_redis.stop()
    with pytest.raises(TokenStoreUnavailable):
        store.take_and_set("code", "outcome", "used", 60)
    with pytest.raises(TokenStoreUnavailable):
        store.get_chained("code", "prefix:")
    throwaway_redis.start()
    store.set("code", "again", 60)
    assert store.take_and_set("code", "outcome", "used", 60) == "again"


def test_a_script_whose_reply_times_out_is_not_run_twice(make_store, throwaway_redis):
    """The server runs a script it received even if its reply came too late for us: a
    retry would count (and consume) a second time."""
    store = make_store(throwaway_redis.url, timeout_s=0.3)
    store.set("code", "record", 60)
    assert store.take_and_set("other", "other-outcome", "used", 60) is None  # script cached
    os.kill(throwaway_redis.process.pid, signal.SIGSTOP)
    try:
        with pytest.raises(TokenStoreUnavailable):
            store.take_and_set("code", "outcome", "used", 60, counters=[("count", 100, 60)])
    finally:
        os.kill(throwaway_redis.process.pid, signal.SIGCONT)
    client = redis.Redis.from_url(throwaway_redis.url, decode_responses=True)
    deadline = time.monotonic() + 5
    while client.get("outcome") is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert client.get("outcome") == "used"  # it ran once, late
    assert client.get("count") == "1"
    assert store.take_and_set("code", "outcome", "used", 60) is None
    client.close()


def test_a_forked_child_opens_its_own_connection(make_store):
    store = make_store()
    store.set("fork:parent", "p", 60)
    store.set("fork:child", "c", 60)
    assert store.get_chained("fork:parent", "none:") == ("p", None)  # parent connected
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answers through the pipe, never through pytest
        try:
            value = store.take_and_set("fork:child", "fork:child-done", "x", 60) or ""
            os.write(write, value.encode())
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 100) == b"c"
    os.close(read)
    assert status == 0
    # The parent's connection was not used by the child: its replies are still its own.
    assert store.take_and_set("fork:parent", "fork:parent-done", "x", 60) == "p"
    assert store.get("fork:child-done") == "x"
