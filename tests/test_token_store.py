"""One contract, two stores: Redis (real server) and the in-process store."""

import threading

import pytest

from backend.errors import TokenStoreUnavailable
from backend.token_store import MemoryTokenStore, RedisTokenStore
from tests.conftest import TEST_REDIS_URL


@pytest.fixture(params=["redis", "memory"])
def store(request):
    if request.param == "redis":
        return RedisTokenStore(TEST_REDIS_URL)
    return MemoryTokenStore()


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


def test_swap_sets_the_new_value_and_returns_the_old_one(store):
    assert store.swap("s1", "first", 30) is None
    assert store.swap("s1", "second", 30) == "first"
    assert store.get("s1") == "second"
    assert 0 < store.ttl("s1") <= 30


def test_set_many_sets_every_key_with_its_own_ttl(store):
    store.set_many([("m1", "a", 30), ("m2", "b", 100)])
    assert (store.get("m1"), store.get("m2")) == ("a", "b")
    assert store.ttl("m1") <= 30 < store.ttl("m2") <= 100


def test_an_unreachable_redis_fails_closed_for_swap_and_set_many():
    store = RedisTokenStore("redis://127.0.0.1:1/0", timeout_s=0.2)
    with pytest.raises(TokenStoreUnavailable):
        store.swap("anything", "x", 10)
    with pytest.raises(TokenStoreUnavailable):
        store.set_many([("anything", "x", 10)])
