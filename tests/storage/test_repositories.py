"""Each repository on both backends: round trips, filters, paging, idempotence, unknown ids."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from freeagentics.coalitions import EventKind
from freeagentics.errors import ConfigurationError, UnknownIdError
from freeagentics.simulation import SimulationConfig
from freeagentics.storage import (
    agents,
    beliefs,
    checkpoints,
    coalitions,
    metrics,
    simulations,
    tables,
)
from freeagentics.storage.beliefs import BeliefSnapshot

MISSING = 10**12


@pytest.fixture
def sim_id(engine) -> int:
    with engine.begin() as conn:
        return simulations.create(conn, SimulationConfig(seed=7), name="repo test")


def test_simulations_create_get_list_update(engine, sim_id):
    with engine.begin() as conn:
        record = simulations.get(conn, sim_id)
        assert (record.name, record.seed, record.status, record.tick) == (
            "repo test",
            7,
            "created",
            0,
        )
        assert record.config["agents"] == {"explorer": 4, "collector": 3, "coordinator": 1}
        simulations.update(conn, sim_id, status="running", tick=12)
        simulations.update(conn, sim_id, tick=5)  # never backwards
        record = simulations.get(conn, sim_id)
        assert (record.status, record.tick) == ("running", 12)
        assert sim_id in [r.id for r in simulations.query(conn, status="running", limit=1000)]
        assert sim_id not in [r.id for r in simulations.query(conn, status="failed", limit=1000)]
        with pytest.raises(UnknownIdError):
            simulations.get(conn, MISSING)
        with pytest.raises(UnknownIdError):
            simulations.update(conn, MISSING, status="paused")
        with pytest.raises(ConfigurationError):
            simulations.update(conn, sim_id, status="exploded")


def _agents(conn, sim_id, tick, ids, coalition=None, energy=None):
    n = len(ids)
    return agents.upsert(
        conn,
        sim_id,
        tick,
        ids=np.asarray(ids),
        kinds=np.arange(n) % 2,
        kind_names=("explorer", "collector"),
        positions=np.stack([np.arange(n), np.arange(n) * 2], axis=1),
        energy=np.full(n, 1.5) if energy is None else energy,
        coalition=np.full(n, -1) if coalition is None else np.asarray(coalition),
        actions=np.zeros(n, np.int64),
        metrics={"belief_entropy": np.linspace(0, 1, n), "free_energy": np.full(n, np.nan)},
    )


def test_agents_bulk_upsert_query_and_paging(engine, sim_id):
    ids = np.arange(250)
    coalition = np.where(ids % 5 == 0, 3, -1)
    with engine.begin() as conn:
        assert _agents(conn, sim_id, 1, ids, coalition) == 250
        assert agents.count(conn, sim_id) == 250
        a = agents.get(conn, sim_id, 7)
        assert (a.kind, a.row, a.col, a.coalition_id, a.status) == (
            "collector",
            7,
            14,
            None,
            "active",
        )
        assert a.metrics["free_energy"] is None  # NaN stored as null
        assert a.metrics["belief_entropy"] == pytest.approx(7 / 249)
        explorers = agents.query(conn, sim_id, kind="explorer", limit=1000)
        assert [r.agent_id for r in explorers] == list(range(0, 250, 2))
        members = agents.query(conn, sim_id, coalition=3, limit=1000)
        assert [r.agent_id for r in members] == list(range(0, 250, 5))
        pages, after = [], None
        while page := agents.query(conn, sim_id, status="active", after=after, limit=60):
            pages.append([r.agent_id for r in page])
            after = page[-1].agent_id
        assert [len(p) for p in pages] == [60, 60, 60, 60, 10]
        assert [i for page in pages for i in page] == list(range(250))
        # A stale write (older tick) does not undo a newer one.
        _agents(conn, sim_id, 5, ids[:10], energy=np.full(10, 9.0))
        _agents(conn, sim_id, 3, ids[:10], energy=np.full(10, 0.0))
        assert agents.get(conn, sim_id, 0).energy == 9.0
        # Agents not in the newest population are retired.
        assert agents.retire_missing(conn, sim_id, 5) == 240
        assert agents.count(conn, sim_id, status="active") == 10
        assert agents.get(conn, sim_id, 100).status == "removed"
        with pytest.raises(UnknownIdError):
            agents.get(conn, sim_id, 10_000)
        with pytest.raises(UnknownIdError):
            agents.query(conn, MISSING)
        with pytest.raises(UnknownIdError):
            _agents(conn, MISSING, 1, ids[:3])


def _events(rows):
    tick, kind, agent, coalition = (np.asarray(c, dtype=np.int64) for c in zip(*rows, strict=True))
    return {"tick": tick, "kind": kind, "agent": agent, "coalition": coalition}


def test_coalitions_events_build_membership_history(engine, sim_id):
    F, J, L, D = (int(k) for k in EventKind)
    first = _events([(1, F, -1, 10), (1, J, 1, 10), (1, J, 2, 10), (1, F, -1, 11), (1, J, 3, 11)])
    second = _events([(4, L, 2, 10), (4, J, 2, 11), (6, D, -1, 11), (6, L, 1, 10), (7, J, 1, 10)])
    with engine.begin() as conn:
        coalitions.apply_events(conn, sim_id, **first)
        coalitions.apply_events(conn, sim_id, **second)
        coalitions.apply_events(conn, sim_id, **second)  # a retried batch changes nothing
        assert (
            coalitions.describe(
                conn,
                sim_id,
                np.array([10, 99]),
                objective=np.array([5, 1]),
                leader=np.array([1, -1]),
            )
            == 1
        )
        c10, c11 = coalitions.get(conn, sim_id, 10), coalitions.get(conn, sim_id, 11)
        assert (c10.status, c10.objective, c10.leader, c10.created_tick) == ("active", 5, 1, 1)
        assert (c11.status, c11.dissolved_tick) == ("dissolved", 6)
        assert [c.coalition_id for c in coalitions.query(conn, sim_id, status="active")] == [10]
        assert coalitions.members(conn, sim_id, 10).tolist() == [1]
        assert coalitions.members(conn, sim_id, 10, at=3).tolist() == [1, 2]
        assert coalitions.members(conn, sim_id, 10, at=6).tolist() == []
        assert coalitions.members(conn, sim_id, 11, at=5).tolist() == [2, 3]
        assert coalitions.members(conn, sim_id, 11).tolist() == []
        hist = [
            (m.coalition_id, m.joined_tick, m.left_tick)
            for m in coalitions.history(conn, sim_id, 2)
        ]
        assert hist == [(10, 1, 4), (11, 4, 6)]
        rejoin = [(m.joined_tick, m.left_tick) for m in coalitions.history(conn, sim_id, 1)]
        assert rejoin == [(1, 6), (7, None)]
        with pytest.raises(UnknownIdError):
            coalitions.get(conn, sim_id, 12345)
        with pytest.raises(UnknownIdError):
            coalitions.apply_events(conn, MISSING, **first)


def test_belief_snapshots_are_compact_and_round_trip(engine, sim_id):
    rng = np.random.default_rng(0)
    q = rng.dirichlet(np.ones(25), size=300)
    snap = BeliefSnapshot(10, "explorer", np.arange(300) * 3, q)
    with engine.begin() as conn:
        beliefs.write(conn, sim_id, [snap, BeliefSnapshot(20, "explorer", snap.ids, q[::-1])])
        beliefs.write(conn, sim_id, [snap])  # idempotent
        back = beliefs.read(conn, sim_id, 10, "explorer")
        assert back.beliefs.dtype == np.float16 and back.beliefs.shape == (300, 25)
        np.testing.assert_array_equal(back.ids, snap.ids)
        np.testing.assert_allclose(back.beliefs, q, atol=1e-3)
        assert beliefs.ticks(conn, sim_id) == [10, 20]
        size = conn.exec_driver_sql(
            "SELECT length(beliefs) FROM belief_snapshots "
            f"WHERE simulation_id = {sim_id} AND tick = 10"
        ).scalar()
        assert size == 300 * 25 * 2  # float16: two bytes per probability, one row per kind
        with pytest.raises(UnknownIdError):
            beliefs.read(conn, sim_id, 11, "explorer")
        with pytest.raises(ConfigurationError):
            beliefs.write(conn, sim_id, [BeliefSnapshot(1, "x", np.arange(3), np.ones((4, 2)))])


def test_tick_metrics_rows_once_per_tick(engine, sim_id):
    from freeagentics.simulation import TickEvents

    def events(tick):
        n = 4
        return TickEvents(
            tick=tick,
            kind_names=("explorer",),
            ids=np.arange(n),
            kinds=np.zeros(n, np.int64),
            positions=np.zeros((n, 2), np.int32),
            actions=np.zeros(n, np.int64),
            energy=np.array([1.0, 2.0, 3.0, 4.0], np.float32),
            coalition=np.array([-1, 5, 5, 6]),
            metrics={"belief_entropy": np.array([0.5, 0.5, 1.5, 1.5], np.float32)},
            timings={"inference": 0.002, "world": 0.001},
        )

    with engine.begin() as conn:
        metrics.write(conn, sim_id, [metrics.summarise(sim_id, events(t)) for t in range(1, 6)])
        metrics.write(conn, sim_id, [metrics.summarise(sim_id, events(3))])  # duplicate: ignored
        rows = metrics.read(conn, sim_id)
        assert [r.tick for r in rows] == [1, 2, 3, 4, 5]
        r = rows[0]
        assert (r.agents, r.coalitions, r.mean_energy) == (4, 2, 2.5)
        assert r.metrics == {"belief_entropy": 1.0}
        assert r.tick_seconds == pytest.approx(0.003)
        assert [r.tick for r in metrics.read(conn, sim_id, start=2, stop=4)] == [2, 3]
        with pytest.raises(UnknownIdError):
            metrics.read(conn, MISSING)


def test_checkpoints_are_stored_inline_and_checked(engine, sim_id):
    from freeagentics.simulation import Simulation

    sim = Simulation(SimulationConfig(seed=3, agents={"explorer": 3}))
    sim.run(2)
    data = sim.to_checkpoint(b"k" * 32)
    with engine.begin() as conn:
        first = checkpoints.save(conn, sim_id, sim.tick, data)
        second = checkpoints.save(conn, sim_id, sim.tick + 1, data)
        assert checkpoints.load(conn, first) == data
        record = checkpoints.latest(conn, sim_id)
        assert (record.id, record.inline, record.size_bytes, record.path) == (
            second,
            True,
            len(data),
            None,
        )
        assert [c.tick for c in checkpoints.query(conn, sim_id)] == [2, 3]
        assert Simulation.from_checkpoint(checkpoints.load(conn, first), b"k" * 32).tick == 2
        conn.execute(
            tables.checkpoints.update()
            .where(tables.checkpoints.c.id == second)
            .values(data=data[:-1] + b"x")
        )
        with pytest.raises(checkpoints.CorruptCheckpointError, match="do not match"):
            checkpoints.load(conn, second)
        with pytest.raises(UnknownIdError):
            checkpoints.load(conn, MISSING)
        with pytest.raises(UnknownIdError):
            checkpoints.latest(conn, MISSING)


def test_a_row_without_bytes_never_reads_the_file_it_names(engine, sim_id, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"not for you")
    row = {
        "simulation_id": sim_id,
        "tick": 1,
        "data": None,
        "path": str(secret),
        "size_bytes": 11,
        "sha256": hashlib.sha256(b"not for you").hexdigest(),
    }
    with engine.begin() as conn:
        ckpt = conn.execute(tables.checkpoints.insert().values(row)).inserted_primary_key[0]
        with pytest.raises(checkpoints.CorruptCheckpointError, match="no stored bytes") as err:
            checkpoints.load(conn, ckpt)
    assert str(tmp_path) not in str(err.value)


def test_checkpoint_quota_prunes_the_oldest_and_refuses_what_cannot_fit(engine, sim_id):
    with engine.begin() as conn:
        for tick in range(5):
            checkpoints.save(conn, sim_id, tick, bytes(100), max_count=3, max_bytes=1_000)
        assert [c.tick for c in checkpoints.query(conn, sim_id)] == [2, 3, 4]
        checkpoints.save(conn, sim_id, 5, bytes(850), max_count=3, max_bytes=1_000)
        kept = checkpoints.query(conn, sim_id)
        assert [c.tick for c in kept] == [4, 5] and sum(c.size_bytes for c in kept) <= 1_000
        with pytest.raises(checkpoints.CheckpointQuotaError, match="checkpoint_max_bytes"):
            checkpoints.save(conn, sim_id, 6, bytes(1_001), max_count=3, max_bytes=1_000)
        assert [c.tick for c in checkpoints.query(conn, sim_id)] == [4, 5]
