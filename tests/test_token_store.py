"""One contract, two stores: Redis (real server) and the in-process store."""

import threading

import pytest

from backend.errors import TokenStoreUnavailable
from backend.token_store import (
    CallerCheck,
    CallerCheckFailed,
    CounterExceeded,
    MemoryTokenStore,
    RedisTokenStore,
)
from tests.conftest import TEST_REDIS_URL


@pytest.fixture(params=["redis", "memory"])
def store(request):
    if request.param == "memory":
        yield MemoryTokenStore()
        return
    redis_store = RedisTokenStore(TEST_REDIS_URL)
    yield redis_store
    redis_store.close()  # an unclosed pool's socket is a ResourceWarning, an error here


def test_a_value_set_can_be_read_back(store):
    store.set("k1", "v1", 30)
    assert store.get("k1") == "v1"
    assert 0 < store.ttl("k1") <= 30


def test_a_missing_key_reads_as_none(store):
    assert store.get("missing") is None
    assert store.take("missing") is None
    assert store.ttl("missing") is None


def test_take_returns_the_value_once(store):
    store.set("k2", "v2", 30)
    assert store.take("k2") == "v2"
    assert store.take("k2") is None
    assert store.get("k2") is None


def test_delete_removes_the_key(store):
    store.set("k3", "v3", 30)
    store.delete("k3")
    assert store.get("k3") is None


def test_a_key_expires_after_its_ttl(store):
    import time

    store.set("k4", "v4", 1)
    time.sleep(1.2)
    assert store.get("k4") is None
    assert store.take("k4") is None


def test_of_many_concurrent_takes_exactly_one_wins(store):
    store.set("race", "prize", 30)
    results: list = []
    barrier = threading.Barrier(20)

    def contender():
        barrier.wait()
        results.append(store.take("race"))

    threads = [threading.Thread(target=contender) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("prize") == 1
    assert results.count(None) == 19


def test_store_reports_healthy(store):
    assert store.health() is True


def test_an_unreachable_redis_fails_closed():
    store = RedisTokenStore("redis://127.0.0.1:1/0", timeout_s=0.2)
    assert store.health() is False
    with pytest.raises(TokenStoreUnavailable):
        store.take("anything")
    with pytest.raises(TokenStoreUnavailable):
        store.set("anything", "x", 10)


def test_set_many_sets_every_key_with_its_own_ttl_and_returns_the_old_values(store):
    store.set("m1", "old", 30)
    assert store.set_many([("m1", "a", 30), ("m2", "b", 100)]) == ["old", None]
    assert (store.get("m1"), store.get("m2")) == ("a", "b")
    assert store.ttl("m1") <= 30 < store.ttl("m2") <= 100


def test_take_and_set_sets_the_second_key_only_when_the_first_was_taken(store):
    store.set("t1", "token", 30)
    assert store.take_and_set("t1", "t1:state", "used", 100) == "token"
    assert store.get("t1") is None and store.get("t1:state") == "used"
    assert 30 < store.ttl("t1:state") <= 100
    assert store.take_and_set("t1", "t1:state", "again", 100) is None
    assert store.get("t1:state") == "used"


def test_of_many_concurrent_take_and_sets_exactly_one_wins(store):
    store.set("race2", "prize", 30)
    results: list = []
    barrier = threading.Barrier(20)

    def contender(n):
        barrier.wait()
        results.append(store.take_and_set("race2", "race2:winner", str(n), 30))

    threads = [threading.Thread(target=contender, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("prize") == 1
    assert store.get("race2:winner") is not None


def test_an_unreachable_redis_fails_closed_for_set_many_and_take_and_set():
    store = RedisTokenStore("redis://127.0.0.1:1/0", timeout_s=0.2)
    with pytest.raises(TokenStoreUnavailable):
        store.take_and_set("anything", "other", "x", 10)
    with pytest.raises(TokenStoreUnavailable):
        store.set_many([("anything", "x", 10)])


def test_get_chained_reads_a_key_and_the_key_its_value_names(store):
    assert store.get_chained("token:a", "version:") == (None, None)
    store.set("token:a", "42", 30)
    assert store.get_chained("token:a", "version:") == ("42", None)
    store.set("version:42", "3", 30)
    assert store.get_chained("token:a", "version:") == ("42", "3")


def test_add_sets_a_key_only_when_it_is_absent(store):
    assert store.add("version", "a", 30) is True
    assert store.add("version", "b", 30) is False
    assert store.get("version") == "a"
    assert 0 < store.ttl("version") <= 30


def test_rotate_points_at_the_new_value_and_retires_the_old_one_once(store):
    retire = ("live:", "gone:", "replaced", 100)
    assert store.rotate(("current", "A", 30), [("live:A", "a", 30)], retire) is None
    assert store.get("current") == "A" and store.get("live:A") == "a"

    assert store.rotate(("current", "B", 30), [("live:B", "b", 30)], retire) == "A"
    assert store.get("current") == "B" and store.get("live:B") == "b"
    assert store.get("live:A") is None  # retired
    assert store.get("gone:A") == "replaced"
    assert 0 < store.ttl("gone:A") <= 100


def test_rotate_leaves_an_already_used_previous_value_alone(store):
    retire = ("live:", "gone:", "replaced", 100)
    store.rotate(("current", "A", 30), [("live:A", "a", 30)], retire)
    store.take_and_set("live:A", "gone:A", "used", 100)  # a scan used it first
    assert store.rotate(("current", "B", 30), [("live:B", "b", 30)], retire) == "A"
    assert store.get("gone:A") == "used"


def test_counters_ride_along_a_take_and_refuse_it_when_full(store):
    counters = (("limit:minute", 2, 60), ("limit:hour", 3, 3600))
    store.set("code:1", "a", 30)
    store.set("code:2", "b", 30)
    store.set("code:3", "c", 30)
    assert store.take_and_set("code:1", "used:1", "x", 30, counters) == "a"
    assert store.take_and_set("missing", "used:m", "x", 30, counters) is None  # still counted
    with pytest.raises(CounterExceeded) as refused:
        store.take_and_set("code:2", "used:2", "x", 30, counters)
    assert refused.value.index == 0  # the first full counter, in the order given
    assert store.get("code:2") == "b" and store.get("used:2") is None  # nothing taken
    assert store.get("limit:minute") == "3" and store.get("limit:hour") == "3"
    assert 0 < store.ttl("limit:minute") <= 60
    assert 3540 < store.ttl("limit:hour") <= 3600  # the window started at the first count
    store.delete("limit:minute")
    with pytest.raises(CounterExceeded) as refused:  # the hourly one is full now
        store.take_and_set("code:3", "used:3", "x", 30, counters)
    assert refused.value.index == 1
    assert store.get("code:3") == "c"


def test_counters_ride_along_a_rotate_and_refuse_it_when_full(store):
    retire = ("live:", "gone:", "replaced", 100)
    counters = (("limit:codes", 1, 60),)
    assert store.rotate(("current", "A", 30), [("live:A", "a", 30)], retire, counters) is None
    with pytest.raises(CounterExceeded):
        store.rotate(("current", "B", 30), [("live:B", "b", 30)], retire, counters)
    assert store.get("current") == "A" and store.get("live:A") == "a"  # nothing changed
    assert store.get("live:B") is None and store.get("gone:A") is None


def test_counters_fail_closed_when_redis_is_down():
    dead = RedisTokenStore("redis://127.0.0.1:1/0", timeout_s=0.2)
    with pytest.raises(TokenStoreUnavailable):
        dead.take_and_set("k", "then", "v", 10, (("limit", 1, 60),))


def _caller(store, version="v1") -> CallerCheck:
    store.set("auth:t", "7", 30)
    store.set("version:7", "v1", 30)
    return CallerCheck("auth:t", "7", "version:7", version)


def test_a_caller_check_rides_along_a_take_and_nothing_happens_when_it_fails(store):
    counters = (("limit", 5, 60),)
    store.set("code:1", "a", 30)
    for make_check, reason in (
        (lambda: CallerCheck("auth:t", "7", "version:7", "v1"), "token"),  # no such token
        (lambda: _caller(store, version="v0"), "version"),  # the account changed since
        (lambda: CallerCheck("auth:t", "8", "version:8", "v1"), "token"),  # another's
    ):
        with pytest.raises(CallerCheckFailed) as failed:
            store.take_and_set("code:1", "used:1", "x", 30, counters, make_check())
        assert failed.value.reason == reason
        assert store.get("code:1") == "a" and store.get("used:1") is None
        assert store.get("limit") is None  # not counted either
    assert store.take_and_set("code:1", "used:1", "x", 30, counters, _caller(store)) == "a"
    assert store.get("used:1") == "x" and store.get("limit") == "1"


def test_a_caller_check_rides_along_a_rotate_and_nothing_happens_when_it_fails(store):
    retire = ("live:", "gone:", "replaced", 100)
    counters = (("limit", 5, 60),)
    store.rotate(("current", "A", 30), [("live:A", "a", 30)], retire)
    store.set("version:7", "v2", 30)
    store.set("auth:t", "7", 30)
    with pytest.raises(CallerCheckFailed) as failed:
        store.rotate(
            ("current", "B", 30),
            [("live:B", "b", 30)],
            retire,
            counters,
            CallerCheck("auth:t", "7", "version:7", "v1"),
        )
    assert failed.value.reason == "version"
    assert store.get("current") == "A" and store.get("live:A") == "a"
    assert store.get("live:B") is None and store.get("limit") is None
    check = CallerCheck("auth:t", "7", "version:7", "v2")
    assert store.rotate(("current", "B", 30), [("live:B", "b", 30)], retire, counters, check)
    assert store.get("current") == "B" and store.get("gone:A") == "replaced"
    assert store.get("limit") == "1"


def test_a_caller_check_and_full_counters_together(store):
    """The check comes first: a full counter is only reported to a confirmed caller."""
    counters = (("limit", 0, 60),)
    store.set("code:1", "a", 30)
    with pytest.raises(CounterExceeded):
        store.take_and_set("code:1", "used:1", "x", 30, counters, _caller(store))
    assert store.get("code:1") == "a"
