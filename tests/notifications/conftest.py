"""Fixtures for notification tests: an in-process RQ worker on the real Redis, a frozen
clock, and a throwaway Redis server a test may stop and start."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
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
