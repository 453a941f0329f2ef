"""The simulation: determinism, checkpoints, population changes, coordination, bounds."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from freeagentics.errors import ConfigurationError, UnknownIdError
from freeagentics.simulation import CoalitionSettings, ObjectiveSpec, Simulation, SimulationConfig
from freeagentics.worlds import GridWorldConfig, ResourceType


def _config(seed: int = 3, **overrides) -> SimulationConfig:
    settings = dict(
        world=GridWorldConfig(height=30, width=30, resources=(ResourceType("food", density=0.05),)),
        agents={"explorer": 30, "collector": 20, "coordinator": 5},
        coalitions=CoalitionSettings(auto_objectives=2, reform_every=5),
        seed=seed,
        knowledge_every=5,
    )
    settings.update(overrides)
    return SimulationConfig(**settings)


def _fingerprint(sim: Simulation) -> tuple:
    return (
        sim.world.positions.tobytes(),
        sim.world.energy.tobytes(),
        tuple(g.cohort.qs[0].tobytes() for g in sim.population.groups),
        sim.coalitions.state.membership.tobytes(),
        sim.knowledge.count_nodes(),
    )


def test_same_seed_same_trajectory_and_other_seed_another():
    a, b, c = Simulation(_config()), Simulation(_config()), Simulation(_config(seed=4))
    for sim in (a, b, c):
        sim.run(40)
    assert _fingerprint(a) == _fingerprint(b)
    assert _fingerprint(a) != _fingerprint(c)


def test_checkpoint_restored_in_a_new_process_continues_exactly(tmp_path):
    straight = Simulation(_config())
    straight.run(100)
    halfway = Simulation(_config())
    halfway.run(50)
    path = halfway.checkpoint(tmp_path / "sim.ckpt")
    out = tmp_path / "after.npz"
    code = (
        "import sys, numpy as np\n"
        "from freeagentics.simulation import Simulation\n"
        "sim = Simulation.restore(sys.argv[1]); sim.run(50)\n"
        "np.savez(sys.argv[2], positions=sim.world.positions, energy=sim.world.energy,\n"
        "         membership=sim.coalitions.state.membership, tick=sim.tick,\n"
        "         **{f'qs{g.code}': g.cohort.qs[0] for g in sim.population.groups})\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path), str(out)], check=True, timeout=120)
    restored = np.load(out)
    assert int(restored["tick"]) == straight.tick == 100
    np.testing.assert_array_equal(restored["positions"], straight.world.positions)
    np.testing.assert_array_equal(restored["energy"], straight.world.energy)
    np.testing.assert_array_equal(restored["membership"], straight.coalitions.state.membership)
    for g in straight.population.groups:
        np.testing.assert_array_equal(restored[f"qs{g.code}"], g.cohort.qs[0])


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"hello")
    with pytest.raises(ConfigurationError, match="not a FreeAgentics checkpoint"):
        Simulation.restore(bad)


def test_agents_join_and_leave_while_running():
    sim = Simulation(_config())
    sim.run(7)
    new = sim.add_agents("collector", 5)
    assert sim.population.n == 60 and sim.world.n_agents == 60
    assert sim.coalitions.state.num_agents == 60
    sim.run(3)
    sim.remove_agents(np.concatenate([new[:2], [0, 1]]))
    assert sim.population.n == 56 and sim.world.n_agents == 56
    assert sim.coalitions.state.num_agents == 56
    events = sim.step()
    assert events.ids.size == 56 and 0 not in events.ids and new[0] not in events.ids
    with pytest.raises(UnknownIdError, match="no agent with id 0"):
        sim.remove_agents([0])
    assert sim.population.n == 56


def test_unknown_kind_is_named():
    with pytest.raises(ConfigurationError, match=r"unknown kind\(s\) \['pirate'\]"):
        Simulation(_config(agents={"pirate": 3}))


def test_coalition_objective_draws_its_members_together():
    """Members head for their objective's cell: coordination shows in behaviour."""
    target = (25, 25)
    cfg = _config(
        agents={"explorer": 40},
        coalitions=CoalitionSettings(
            objectives=(ObjectiveSpec(target=target, capacity=15),), reform_every=1000, strength=6.0
        ),
        world=GridWorldConfig(height=30, width=30, wall_density=0.0),
    )
    sim = Simulation(cfg)
    events = sim.step()
    members = events.coalition >= 0
    assert members.sum() == 15
    start = np.abs(events.positions - target).sum(1)
    for _ in range(40):
        events = sim.step()
    end = np.abs(events.positions - target).sum(1)
    # fifteen agents cannot all stand on one cell: they crowd within a few steps of it
    assert end[members].mean() < min(4.0, 0.6 * start[members].mean())
    assert end[~members].mean() > end[members].mean() + 5


def test_slow_subscriber_never_slows_the_tick_nor_grows_memory():
    sim = Simulation(_config())
    sim.run(3)
    started = time.perf_counter()
    sim.run(20)
    baseline = time.perf_counter() - started
    release = threading.Event()
    slow = sim.bus.subscribe(lambda _: release.wait(5), maxsize=4, policy="latest")
    fast_seen = []
    fast = sim.bus.subscribe(lambda e: fast_seen.append(e.tick), maxsize=64, policy="block")
    started = time.perf_counter()
    sim.run(20)
    elapsed = time.perf_counter() - started
    assert slow.depth <= 4 and slow.dropped >= 20 - 4 - 1
    assert elapsed < 3 * baseline + 0.5
    release.set()
    assert sim.bus.flush(timeout=10)
    assert fast_seen == list(range(24, 44))  # "block" delivers every batch, in order
    sim.bus.unsubscribe(slow)
    sim.bus.unsubscribe(fast)
    assert sim.bus.subscriptions == ()
    assert not slow._thread.is_alive() and not fast._thread.is_alive()


def test_pause_from_a_subscriber_stops_run_and_resume_continues():
    sim = Simulation(_config())

    def on_tick(events):
        if events.tick == 5:
            sim.pause()

    assert sim.run(100, on_tick=on_tick) == 5 and sim.paused
    assert sim.run(10) == 0
    sim.resume()
    assert sim.run(10) == 10 and sim.tick == 15


def test_nothing_grows_with_the_number_of_ticks():
    sim = Simulation(_config(knowledge_every=1))
    sim.run(60)
    sizes = _sizes(sim)
    sim.run(240)
    later = _sizes(sim)
    assert later["history"] == sizes["history"]
    assert later["coalition_log"] <= sim.config.coalitions.history
    locations = sim.config.world.height * sim.config.world.width
    assert later["knowledge_nodes"] <= sim.population.n + 10 + locations
    assert later["coalition_rows"] <= sim.population.n + 2


def _sizes(sim: Simulation) -> dict[str, int]:
    return {
        "history": sum(g.history.nbytes for g in sim.population.groups),
        "coalition_log": len(sim.coalitions.history),
        "knowledge_nodes": sim.knowledge.count_nodes(),
        "coalition_rows": sim.coalitions.state.num_coalitions,
    }


def test_belief_history_keeps_the_last_ticks():
    sim = Simulation(_config(history=3))
    for _ in range(5):
        sim.step()
    agent = int(sim.population.ids[0])
    g = sim.population.groups[0]
    history = sim.population.history_of(agent, sim.tick)
    assert history.shape == (3, g.cohort.model.num_states[0])
    # stored as bfloat16: relative error at most 2**-8
    np.testing.assert_allclose(history[-1], g.cohort.qs[0][0], rtol=2**-8, atol=0)
    np.testing.assert_allclose(history.sum(1), 1.0, atol=1e-2)


def test_tick_events_carry_metrics_and_stage_timings():
    sim = Simulation(_config())
    events = sim.step()
    n = sim.population.n
    assert events.positions.shape == (n, 2) and events.actions.shape == (n,)
    assert set(events.metrics) >= {"belief_entropy", "free_energy", "policy_entropy"}
    assert all(v.shape == (n,) and np.isfinite(v).all() for v in events.metrics.values())
    assert {"observe", "inference", "world", "coalitions", "knowledge"} <= set(events.timings)
