"""Sharded populations: the same seed gives the same run, bit for bit, whatever the split;
shards run on both nodes of a real cluster; a sharded population is fixed."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freeagentics.agents import CohortConfig
from freeagentics.agents._engines import smallest_part
from freeagentics.agents.kinds import define_kind
from freeagentics.errors import ConfigurationError
from freeagentics.hosts._row_parts import RowSliceGenerator, plan_parts
from freeagentics.hosts.shards import ShardedAgents, shard, unshard
from freeagentics.models.builders import displacement_model
from freeagentics.server.app import demo_scenario
from freeagentics.simulation import CoalitionSettings, Simulation, SimulationConfig
from freeagentics.simulation.scenario import scenario_from_mapping
from freeagentics.worlds import GridWorldConfig, ResourceType

EVENT_ARRAYS = ("ids", "kinds", "positions", "actions", "energy", "coalition")


def _demo() -> Simulation:
    """The server's demo scenario (explorers, collectors, coordinators; coalitions with
    objectives) at 60 agents."""
    return Simulation(scenario_from_mapping(demo_scenario(60), default_name="demo").config)


def _learners() -> Simulation:
    """Kinds on every engine: drives (fused), learning A and B with stochastic choices
    (general engine), learning A and B (fused learner: per-agent B read where its
    shard's concentrations are not zero), two-step plans (BLAS predictions)."""
    kinds = [
        define_kind(
            "learner",
            radius=3,
            config=CohortConfig(
                learn_A=True,
                learn_B=True,
                gamma=4.0,
                action_selection="stochastic",
                fast_path=False,
            ),
        ),
        define_kind(
            "student", radius=3, config=CohortConfig(learn_A=True, learn_B=True, gamma=4.0)
        ),
        define_kind("planner", model=displacement_model(3, policy_len=2)),
    ]
    config = SimulationConfig(
        world=GridWorldConfig(height=30, width=30, resources=(ResourceType("food", density=0.08),)),
        agents={"explorer": 9, "collector": 7, "learner": 7, "student": 5, "planner": 40},
        coalitions=CoalitionSettings(auto_objectives=2, reform_every=4),
        seed=5,
        radius=3,
        knowledge_every=3,
        metrics_every=2,
        history=3,
    )
    return Simulation(config, kinds=kinds)


def _assert_same_run(plain: Simulation, sharded: Simulation, ticks: int) -> None:
    for _ in range(ticks):
        a, b = plain.step(), sharded.step()
        assert a.tick == b.tick and a.metrics_tick == b.metrics_tick
        for name in EVENT_ARRAYS:
            assert np.array_equal(getattr(a, name), getattr(b, name)), (a.tick, name)
        assert a.metrics.keys() == b.metrics.keys()
        for name in a.metrics:
            assert np.array_equal(a.metrics[name], b.metrics[name]), (a.tick, name)
        assert a.coalition_events.keys() == b.coalition_events.keys()
        for name in a.coalition_events:
            assert np.array_equal(a.coalition_events[name], b.coalition_events[name])
    # every array and value of the state: beliefs, plans, learned parameters, histories,
    # visit memories, every generator's position
    one, other = plain.export_state(), sharded.export_state()
    assert one.values == other.values
    assert one.arrays.keys() == other.arrays.keys()
    for name, array in one.arrays.items():
        assert array.dtype == other.arrays[name].dtype, name
        assert np.array_equal(array, other.arrays[name]), name


@pytest.mark.parametrize("make", [_demo, _learners], ids=["demo", "learners"])
@pytest.mark.parametrize("split", [1, 2, 3, (0.15, 0.6, 0.25), (1, 0, 3)])
def test_a_sharded_run_is_the_unsharded_run_bit_for_bit(make, split):
    plain, sharded = make(), make()
    rows = shard(sharded, split, in_process=True)
    assert rows.shards == (split if isinstance(split, int) else len(split))
    _assert_same_run(plain, sharded, 45)


def test_rows_are_never_cut_finer_than_a_cohort_allows():
    sim = _learners()
    smallest = {g.kind.name: smallest_part(g.cohort.engine) for g in sim.population.groups}
    assert smallest == {"explorer": 1, "collector": 1, "learner": 2, "student": 1, "planner": 16}
    rows = shard(sim, (0.1, 0.45, 0.45), in_process=True)
    for g in sim.population.groups:
        sizes = [b - a for a, b in rows.bounds[g.code]]
        assert sum(sizes) == g.n
        assert all(s == 0 or s >= min(smallest[g.kind.name], g.n) for s in sizes), sizes


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(0, 300),
    weights=st.lists(st.floats(0, 10), min_size=1, max_size=6).filter(lambda w: sum(w) > 0),
    smallest=st.integers(1, 20),
)
def test_parts_are_contiguous_cover_every_row_and_are_never_too_small(n, weights, smallest):
    parts = plan_parts(n, weights, smallest)
    assert len(parts) == len(weights)
    assert parts[0][0] == 0 and parts[-1][1] == n
    for (_, stop), (start, _) in itertools.pairwise(parts):
        assert stop == start
    sizes = [b - a for a, b in parts]
    assert all(s == 0 or s >= min(smallest, n) for s in sizes)
    if smallest == 1:  # nothing merged: each part holds its weight's share, rounded
        total = sum(weights)
        for size, w in zip(sizes, weights, strict=True):
            assert abs(size - n * w / total) <= 1.0


@given(
    total=st.integers(1, 200),
    cuts=st.lists(st.integers(0, 200), max_size=4),
    draws=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_parts_draw_the_random_numbers_of_their_rows(total, cuts, draws, seed):
    bounds = sorted({0, total, *(min(c, total) for c in cuts)})
    whole = np.random.default_rng(seed)
    parts = [
        (a, b, RowSliceGenerator(np.random.default_rng(seed), a, b, total))
        for a, b in itertools.pairwise(bounds)
    ]
    for _ in range(draws):
        expected = whole.random(total)
        got = np.concatenate([g.random(b - a) for a, b, g in parts])
        assert np.array_equal(expected, got)
    for _, _, g in parts:  # every copy stands where the whole's generator stands
        assert g.bit_generator.state == whole.bit_generator.state


def test_a_part_generator_refuses_other_draws():
    g = RowSliceGenerator(np.random.default_rng(0), 2, 5, 9)
    with pytest.raises(ConfigurationError, match="3 rows drew 4"):
        g.random(4)
    with pytest.raises(ConfigurationError, match="'integers' is not one"):
        g.integers(3)


def test_a_sharded_population_is_fixed_and_its_rows_are_not_read_in_the_coordinator():
    sim = _demo()
    sim.run(3)
    shard(sim, 2, in_process=True)
    before = sim.export_state()
    with pytest.raises(ConfigurationError, match="population is fixed"):
        sim.add_agents("explorer", 2)
    with pytest.raises(ConfigurationError, match="population is fixed"):
        sim.remove_agents([0])
    after = sim.export_state()  # nothing changed, in the world or the rows
    assert after.values == before.values
    assert all(np.array_equal(after.arrays[k], v) for k, v in before.arrays.items())
    with pytest.raises(ConfigurationError, match="live in shards"):
        sim.population.groups[0].cohort.qs  # noqa: B018
    with pytest.raises(ConfigurationError, match="live in shards"):
        sim.population.history_of(0, sim.tick)
    with pytest.raises(ConfigurationError, match="sharded already"):
        shard(sim, 2, in_process=True)


def test_unsharding_brings_the_rows_back_and_the_run_goes_on_unchanged():
    plain, sharded = _learners(), _learners()
    shard(sharded, 3, in_process=True)
    _assert_same_run(plain, sharded, 10)
    unshard(sharded)
    assert not isinstance(sharded.agent_rows, ShardedAgents)
    ids = plain.add_agents("learner", 2)
    assert np.array_equal(sharded.add_agents("learner", 2), ids)
    _assert_same_run(plain, sharded, 10)


def test_a_sharded_simulation_checkpoints_and_resumes_as_the_plain_one():
    plain, sharded = _demo(), _demo()
    shard(sharded, 2, in_process=True)
    plain.run(12)
    sharded.run(12)
    assert plain.to_checkpoint() == sharded.to_checkpoint()
    resumed = Simulation.from_checkpoint(sharded.to_checkpoint())
    shard(resumed, (2, 1), in_process=True)
    _assert_same_run(plain, resumed, 10)


def test_shard_reports_the_costs_of_each_tick():
    sim = _demo()
    shard(sim, 2, in_process=True)
    sim.step()
    act, metrics = sim.agent_rows.last_comm["act"], sim.agent_rows.last_comm["metrics"]
    assert len(act["compute_s"]) == 2 and all(s > 0 for s in act["compute_s"])
    # 17 bytes out per agent with drives (every demo kind has them), one byte back
    assert act["bytes_out"] == 17 * 60 and act["bytes_in"] == 60
    assert act["comm_s"] >= 0 and act["send_s"] > 0
    # four float32 metrics per agent
    assert metrics["bytes_out"] == 0 and metrics["bytes_in"] == 4 * 4 * 60


def test_bad_splits_are_refused():
    with pytest.raises(ConfigurationError, match="shards must be >= 1"):
        shard(_demo(), 0, in_process=True)
    with pytest.raises(ConfigurationError, match="positive sum"):
        shard(_demo(), (0, 0), in_process=True)
    with pytest.raises(ConfigurationError, match="placement names 1 shards, not 2"):
        shard(_demo(), 2, placement=[{}], in_process=True)


# ---------------------------------------------------------------------- on the cluster
def test_shards_on_both_nodes_of_a_real_cluster_run_the_same_trajectory(ray_cluster):
    import ray

    plain, sharded = _learners(), _learners()
    placement = [
        {**ray_cluster.on("a"), "num_cpus": 0},
        {**ray_cluster.on("b"), "num_cpus": 0},
        {**ray_cluster.on("b"), "num_cpus": 0},
    ]
    rows = shard(sharded, (0.3, 0.4, 0.3), placement=placement)
    try:
        pids = ray.get([h.pid.remote() for h in rows.handles])
        assert [ray_cluster.node_of(pid) for pid in pids] == ["a", "b", "b"]
        _assert_same_run(plain, sharded, 30)
        comm = rows.last_comm["act"]
        assert len(comm["compute_s"]) == 3 and comm["bytes_out"] > 0
        unshard(sharded)  # rows back from both nodes, actors ended
        _assert_same_run(plain, sharded, 5)
    finally:
        if isinstance(sharded.agent_rows, ShardedAgents):
            sharded.agent_rows.close()


def test_sharding_needs_a_connected_ray_unless_in_process(monkeypatch):
    ray = pytest.importorskip("ray")
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    with pytest.raises(ConfigurationError, match=r"ray\.init"):
        shard(_demo(), 2)


def test_group_inputs_rows_are_views_of_every_field():
    from freeagentics.simulation._rows import GroupInputs

    x = GroupInputs(np.arange(6)[:, None], objective=np.ones(6, bool))
    part = x.rows(2, 5)
    assert part.obs[:, 0].tolist() == [2, 3, 4] and part.objective.shape == (3,)
    assert part.contact is None and np.shares_memory(part.obs, x.obs)
