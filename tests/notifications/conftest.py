"""Fixtures for notification tests: an in-process RQ worker on the real Redis, a frozen
clock, and a throwaway Redis server a test may stop and start."""

from __future__ import annotations

import socket
import subprocess
import time
from datetime import UTC, datetime

import pytest
import redis
from rq import SimpleWorker

from backend import clock
from notifications.queue import get_queue

T0 = datetime(2026, 5, 4, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


@pytest.fixture
def frozen_clock():
    with clock.frozen(T0):
        yield clock


@pytest.fixture
def run_worker():
    """Run the delivery worker in this process until both queues are empty."""

    def run() -> None:
        queues = [get_queue(bulk=False), get_queue(bulk=True)]
        SimpleWorker(queues, connection=queues[0].connection).work(burst=True)

    return run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowawayRedis:
    """A redis-server of this test's own on a free port (never the shared one)."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        try:
            for _ in range(100):  # wait until it answers
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    time.sleep(0.05)
            raise RuntimeError("throwaway redis-server did not start")
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def throwaway_redis():
    server = ThrowawayRedis()
    server.start()
    yield server
    server.stop()
