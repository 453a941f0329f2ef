"""Adding and removing agents, determinism under seed, and exact checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

from freeagentics.errors import ConfigurationError, UnknownIdError
from freeagentics.worlds import GridWorld, GridWorldConfig, ResourceType

CFG = GridWorldConfig(
    height=20,
    width=24,
    n_agents=30,
    wall_density=0.15,
    n_goals=3,
    hazard_density=0.05,
    resources=(ResourceType("food", 0.1), ResourceType("water", 0.05, 2.0, 0.02, 0.5)),
    initial_energy=5.0,
    energy_cost_per_tick=0.05,
)


def states_equal(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if key == "rng":
            assert a[key] == b[key]
        else:
            assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), key


def run(world, n_steps, seed):
    rng = np.random.default_rng(seed)
    results = []
    for _ in range(n_steps):
        results.append(world.step(rng.integers(0, 5, world.n_slots)))
    return results


def test_same_seed_same_world_bit_for_bit():
    a, b = GridWorld(CFG, seed=7), GridWorld(CFG, seed=7)
    states_equal(a.get_state(), b.get_state())
    ra, rb = run(a, 40, 1), run(b, 40, 1)
    states_equal(a.get_state(), b.get_state())
    assert all(np.array_equal(x.reward, y.reward) for x, y in zip(ra, rb, strict=True))
    c = GridWorld(CFG, seed=8)
    assert not np.array_equal(a.walls, c.walls)
    b.reset(7)
    a.reset(7)
    states_equal(a.get_state(), b.get_state())


def test_drawn_layout_respects_the_config():
    world = GridWorld(GridWorldConfig(height=100, width=100, n_goals=5, wall_density=0.2), 3)
    assert world.goals.sum() == 5
    assert abs(world.walls.mean() - 0.2) < 0.03
    features = world.walls.astype(int) + world.goals + world.hazards
    assert features.max() <= 1


def test_add_agents_on_random_free_cells_reuses_slots():
    world = GridWorld(CFG, seed=1)
    world.remove_agents([3, 10])
    assert world.n_agents == 28 and world.n_slots == 30
    assert not world.active[[3, 10]].any() and (world.positions[[3, 10]] == -1).all()
    new = world.add_agents(4, energy=2.5)
    assert new.tolist() == [3, 10, 30, 31]
    assert world.n_slots == 32 and world.n_agents == 32
    assert (world.energy[new] == 2.5).all()
    lin = world.positions_linear()
    assert np.unique(lin).size == 32 and not world.walls.flat[lin].any()


def test_add_agents_at_given_positions_and_errors():
    world = GridWorld(CFG, seed=2)
    vacant = ~world.walls
    vacant.flat[world.positions_linear()] = False
    free = np.argwhere(vacant)[:2]
    idx = world.add_agents(positions=free)
    assert world.positions[idx].tolist() == free.tolist()
    with pytest.raises(ConfigurationError, match="occupied"):
        world.add_agents(positions=free[:1])
    wall = np.argwhere(world.walls)[:1]
    with pytest.raises(ConfigurationError, match="walls"):
        world.add_agents(positions=wall)
    with pytest.raises(ConfigurationError, match="lie in"):
        world.add_agents(positions=np.array([[CFG.height, 0]]))
    with pytest.raises(ConfigurationError, match="n must be"):
        world.add_agents(-1)
    assert world.n_agents == 32, "failed additions leave the population untouched"


def test_remove_unknown_agents_raises():
    world = GridWorld(CFG, seed=3)
    with pytest.raises(UnknownIdError, match="30"):
        world.remove_agents([30])
    world.remove_agents([5])
    with pytest.raises(UnknownIdError, match="5"):
        world.remove_agents([5])
    with pytest.raises(ConfigurationError, match="distinct"):
        world.remove_agents([1, 1])


def test_removed_agent_frees_its_cell_for_others():
    world = GridWorld(CFG, seed=4)
    cell = world.positions[0].copy()
    world.remove_agents([0])
    idx = world.add_agents(positions=cell[None])
    assert idx.tolist() == [0]


def test_checkpoint_restores_and_continues_identically():
    world = GridWorld(CFG, seed=11)
    run(world, 15, seed=5)
    world.remove_agents([2, 7])
    world.add_agents(5)
    saved = world.get_state()
    after = run(world, 25, seed=6)
    final = world.get_state()

    other = GridWorld(CFG, seed=999)  # a different world, overwritten by the checkpoint
    other.set_state(saved)
    states_equal(other.get_state(), saved)
    again = run(other, 25, seed=6)
    states_equal(other.get_state(), final)
    for x, y in zip(after, again, strict=True):
        assert np.array_equal(x.moved, y.moved) and np.array_equal(x.collected, y.collected)
    assert np.array_equal(world.observe(), other.observe())
    # The checkpoint is a copy: continuing the original did not alter it.
    assert saved["tick"] == 15 and final["tick"] == 40


def test_set_state_rejects_inconsistent_states():
    world = GridWorld(CFG, seed=12)
    state = world.get_state()
    bad = dict(state, resources=state["resources"][:1])
    with pytest.raises(ConfigurationError, match="resources"):
        world.set_state(bad)
    overlap = state["positions"].copy()
    overlap[1] = overlap[0]
    with pytest.raises(ConfigurationError, match="distinct"):
        world.set_state(dict(state, positions=overlap))
    with pytest.raises(ConfigurationError, match="missing"):
        world.set_state({k: v for k, v in state.items() if k != "rng"})
    states_equal(world.get_state(), state)


def test_views_are_read_only():
    world = GridWorld(CFG, seed=0)
    for view in (world.positions, world.energy, world.active, world.resources, world.walls):
        with pytest.raises(ValueError, match="read-only"):
            view.flat[0] = 0
