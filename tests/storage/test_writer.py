"""The batched writer: a real simulation stored end to end, backpressure, coalescing, retries."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy import event

from freeagentics.errors import ConfigurationError
from freeagentics.simulation import CoalitionSettings, Simulation, SimulationConfig
from freeagentics.storage import StorageWriter, agents, beliefs, coalitions, metrics, simulations


def _new_sim(engine, config=None) -> int:
    with engine.begin() as conn:
        return simulations.create(conn, config or {})


def _stored_ticks(engine, sim_id) -> list[int]:
    with engine.connect() as conn:
        return [r.tick for r in metrics.read(conn, sim_id)]


def test_simulation_run_is_stored_exactly(engine):
    config = SimulationConfig(
        seed=5,
        agents={"explorer": 6, "collector": 4, "coordinator": 2},
        coalitions=CoalitionSettings(reform_every=4, auto_objectives=2),
    )
    sim = Simulation(config)
    sim_id = _new_sim(engine, config)
    seen = []
    with StorageWriter(engine, sim_id, snapshot_every=5, queue_size=4, max_batch=3) as writer:
        store = writer.hook(sim)

        def on_tick(events):
            seen.append(events)
            store(events)

        sim.run(15, on_tick=on_tick)
        sim.remove_agents([0, 7])
        sim.run(15, on_tick=on_tick)
        assert writer.flush(timeout=30)
    assert writer.ticks_written == writer.ticks_accepted == 30
    assert writer.retries == 0 and writer.batches_written >= 1 and writer.rows_written > 30
    assert writer.max_depth <= 4
    with engine.connect() as conn:
        rows = metrics.read(conn, sim_id)
        assert [r.tick for r in rows] == list(range(1, 31))
        for row, ev in zip(rows, seen, strict=True):
            assert row.agents == len(ev.ids)
            assert row.mean_energy == pytest.approx(float(np.mean(ev.energy)), rel=1e-5)
        assert simulations.get(conn, sim_id).tick == 30
        last = seen[-1]
        active = agents.query(conn, sim_id, status="active", limit=1000)
        assert [a.agent_id for a in active] == last.ids.tolist()
        np.testing.assert_array_equal([[a.row, a.col] for a in active], last.positions)
        np.testing.assert_allclose([a.energy for a in active], last.energy, rtol=1e-6)
        assert [a.coalition_id if a.coalition_id is not None else -1 for a in active] == (
            last.coalition.tolist()
        )
        removed = agents.query(conn, sim_id, status="removed", limit=10)
        assert [a.agent_id for a in removed] == [0, 7]
        # Open memberships mirror the simulation's coalition membership.
        stored = {}
        for c in coalitions.query(conn, sim_id, status="active"):
            for agent in coalitions.members(conn, sim_id, c.coalition_id):
                stored[int(agent)] = c.coalition_id
        expected = {int(i): int(c) for i, c in zip(last.ids, last.coalition, strict=True) if c >= 0}
        assert expected and stored == expected
        assert beliefs.ticks(conn, sim_id, "explorer") == [5, 10, 15, 20, 25, 30]
        snap = beliefs.read(conn, sim_id, 30, "explorer")
        group = sim.population.group("explorer")
        np.testing.assert_array_equal(snap.ids, group.ids)
        np.testing.assert_allclose(snap.beliefs, group.cohort.qs[0], atol=2e-3)


class SlowDatabase:
    """Delays every statement on ``engine`` by ``delay`` seconds while installed."""

    def __init__(self, engine, delay: float):
        self.engine, self.delay = engine, delay

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._slow)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._slow)

    def _slow(self, *args):
        time.sleep(self.delay)


def test_block_policy_bounds_the_queue_and_loses_nothing(engine, make_events):
    sim_id = _new_sim(engine)
    writer = StorageWriter(engine, sim_id, queue_size=3, max_batch=2, policy="block")
    with SlowDatabase(engine, 0.01):
        for tick in range(1, 41):
            writer.submit(make_events(tick))
            assert writer.queue_depth <= 3
        assert writer.close(timeout=60)
    assert writer.backpressure_waits > 0  # the producer had to wait for the database
    assert writer.max_depth <= 3 and writer.ticks_coalesced == 0
    assert _stored_ticks(engine, sim_id) == list(range(1, 41))
    with pytest.raises(ConfigurationError):
        writer.submit(make_events(41))


def test_coalesce_policy_never_blocks_and_keeps_every_tick(engine, make_events):
    sim_id = _new_sim(engine)
    writer = StorageWriter(engine, sim_id, queue_size=2, max_batch=1, policy="coalesce")
    with SlowDatabase(engine, 0.02):
        for tick in range(1, 61):
            # The last tick drops agents 0..4: coalesced state must still retire them.
            writer.submit(make_events(tick, removed=5 if tick == 60 else 0))
            assert writer.queue_depth <= 2
        assert writer.close(timeout=60)
    assert writer.backpressure_waits == 0 and writer.ticks_coalesced > 0
    assert writer.ticks_written == 60
    assert _stored_ticks(engine, sim_id) == list(range(1, 61))
    with engine.connect() as conn:
        assert agents.count(conn, sim_id, status="active") == 15
        assert agents.get(conn, sim_id, 10).updated_tick == 60
        assert agents.get(conn, sim_id, 10).energy == pytest.approx(60.1)


def test_failed_writes_are_retried_until_written_once(engine, make_events):
    sim_id = _new_sim(engine)
    failures = {"left": 5}
    lock = threading.Lock()

    def fail(conn, cursor, statement, *args):
        if "tick_metrics" in statement or "_fa_stage_" in statement:
            with lock:
                if failures["left"] > 0:
                    failures["left"] -= 1
                    raise sa.exc.OperationalError(statement, {}, Exception("injected outage"))

    event.listen(engine, "before_cursor_execute", fail)
    try:
        writer = StorageWriter(engine, sim_id, backoff_initial=0.01, backoff_max=0.05)
        for tick in range(1, 21):
            writer.submit(make_events(tick))
        assert writer.close(timeout=30)
    finally:
        event.remove(engine, "before_cursor_execute", fail)
    assert writer.retries == 5 and "injected outage" in writer.last_error
    assert _stored_ticks(engine, sim_id) == list(range(1, 21))


def test_writer_rejects_bad_settings(engine):
    with pytest.raises(ConfigurationError):
        StorageWriter(engine, 1, policy="drop")
    with pytest.raises(ConfigurationError):
        StorageWriter(engine, 1, queue_size=0)


def test_every_batch_written_is_reported_with_its_duration(engine, make_events):
    sim_id = _new_sim(engine)
    durations: list[float] = []
    writer = StorageWriter(engine, sim_id, max_batch=2, on_write_seconds=durations.append)
    for tick in range(1, 12):
        writer.submit(make_events(tick))
    assert writer.close(timeout=60)
    assert len(durations) == writer.batches_written >= 6  # 11 ticks, at most 2 a batch
    assert all(d > 0 for d in durations)
