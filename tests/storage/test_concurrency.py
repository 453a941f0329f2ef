"""A thousand concurrent operations queue on a bounded pool and all succeed."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from freeagentics.storage import agents, metrics, simulations

OPERATIONS = 1000


def test_thousand_concurrent_operations_without_errors(engine, make_events):
    with engine.begin() as conn:
        sim_id = simulations.create(conn, {"name": "concurrency"})
        agents.upsert(
            conn,
            sim_id,
            0,
            ids=np.arange(50),
            kinds=np.zeros(50, np.int64),
            kind_names=("explorer",),
            positions=np.zeros((50, 2), np.int32),
            energy=np.ones(50),
        )
    # All 1000 threads start together against a pool of 10 + 20 connections.
    start = threading.Barrier(OPERATIONS)

    def operation(i: int) -> int:
        start.wait(timeout=60)
        with engine.begin() as conn:
            if i % 3 == 0:  # a write: one tick's metrics row
                return metrics.write(conn, sim_id, [metrics.summarise(sim_id, make_events(i))])
            if i % 3 == 1:  # a filtered, paged read
                return len(agents.query(conn, sim_id, status="active", limit=20))
            simulations.update(conn, sim_id, tick=i)
            return 1

    with ThreadPoolExecutor(max_workers=OPERATIONS) as pool:
        results = list(pool.map(operation, range(OPERATIONS)))  # re-raises any error
    assert results.count(20) == len(range(1, OPERATIONS, 3))
    assert engine.pool.checkedout() == 0
    with engine.connect() as conn:
        assert [r.tick for r in metrics.read(conn, sim_id)] == list(range(0, OPERATIONS, 3))
        assert simulations.get(conn, sim_id).tick == max(range(2, OPERATIONS, 3))
