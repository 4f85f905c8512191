"""Per-host spacing through the database: workers in parallel queue up behind each other."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from pipeline.storage.engine import create_database_engine, migrate
from pipeline.storage.hostgate import DatabaseHostGate

T0 = datetime(2025, 8, 16, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def engine(database_url):
    engine = create_database_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


def test_slots_are_spaced_per_host(engine):
    gate = DatabaseHostGate(engine, clock=lambda: T0)
    assert [gate.reserve("www.cbc.ca", 2.0) for _ in range(3)] == [0.0, 2.0, 4.0]
    assert gate.reserve("www.tagesschau.de", 2.0) == 0.0  # another host: no wait


def test_time_passing_frees_the_host(engine):
    now = [T0]
    gate = DatabaseHostGate(engine, clock=lambda: now[0])
    gate.reserve("www.cbc.ca", 1.0)
    now[0] = T0 + timedelta(seconds=5)
    assert gate.reserve("www.cbc.ca", 1.0) == 0.0


def test_parallel_workers_never_share_a_slot(engine, database_url):
    """Eight workers, each with its own engine (as Airflow's tasks have), ask one host at once."""
    waits: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def worker() -> None:
        own = create_database_engine(database_url)
        gate = DatabaseHostGate(own, clock=lambda: T0)
        barrier.wait()
        for _ in range(3):
            wait = gate.reserve("feeds.example.test", 1.5)
            with lock:
                waits.append(wait)
        own.dispose()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(waits) == [1.5 * n for n in range(24)]
