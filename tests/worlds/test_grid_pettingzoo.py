"""The PettingZoo Parallel API adapter."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pettingzoo")

from pettingzoo.test import parallel_api_test

from freeagentics.errors import ConfigurationError
from freeagentics.worlds import Cell, GridWorldConfig, ResourceType
from freeagentics.worlds.pettingzoo import GridWorldParallelEnv

CFG = GridWorldConfig(
    height=8,
    width=8,
    n_agents=6,
    hazard_density=0.1,
    resources=(ResourceType("food", 0.2),),
    initial_energy=3.0,
    energy_cost_per_tick=0.2,
)


def test_parallel_api_test_passes(recwarn):
    parallel_api_test(GridWorldParallelEnv(CFG, max_cycles=60), num_cycles=200)
    assert not [w for w in recwarn if "agent" in str(w.message).lower()]


def test_spaces_and_observations_fit():
    env = GridWorldParallelEnv(CFG, energy_buckets=4)
    obs, _ = env.reset(seed=3)
    assert set(obs) == set(env.possible_agents) == {f"agent_{i}" for i in range(6)}
    space = env.observation_space("agent_0")
    assert space.nvec.tolist() == [7] * 5 + [4]
    assert env.action_space("agent_0").n == 5
    assert all(space.contains(o) for o in obs.values())
    assert all(o[-1] == 3 for o in obs.values()), "full energy is the top bucket"


def test_reset_with_seed_is_deterministic():
    a, b = GridWorldParallelEnv(CFG), GridWorldParallelEnv(CFG)
    oa, _ = a.reset(seed=42)
    ob, _ = b.reset(seed=42)
    assert all(np.array_equal(oa[k], ob[k]) for k in oa)
    rng = np.random.default_rng(0)
    for _ in range(20):
        acts = {agent: int(rng.integers(5)) for agent in a.agents}
        sa, sb = a.step(acts), b.step(acts)
        for da, db in zip(sa, sb, strict=True):
            assert da.keys() == db.keys()
            for k in da:
                if isinstance(da[k], np.ndarray):
                    assert np.array_equal(da[k], db[k])
                elif isinstance(da[k], dict):
                    assert da[k].keys() == db[k].keys()
                else:
                    assert da[k] == db[k]
    assert np.array_equal(a.state(), b.state())
    oc, _ = a.reset(seed=43)
    assert not all(np.array_equal(oa[k], oc[k]) for k in oa)


def test_exhausted_agents_terminate_and_leave():
    cfg = GridWorldConfig(
        height=6, width=6, n_agents=4, n_goals=0, initial_energy=1.0, energy_cost_per_tick=0.5
    )
    env = GridWorldParallelEnv(cfg, max_cycles=100)
    env.reset(seed=0)
    _, rewards, term, trunc, _ = env.step(dict.fromkeys(env.agents, 4))
    assert not any(term.values()) and all(r == pytest.approx(-0.5) for r in rewards.values())
    _, _, term, trunc, _ = env.step(dict.fromkeys(env.agents, 4))
    assert all(term.values()) and not any(trunc.values())
    assert env.agents == [] and env.world.n_agents == 0


def test_truncation_at_max_cycles():
    env = GridWorldParallelEnv(CFG, max_cycles=3)
    env.reset(seed=1)
    for _ in range(2):
        _, _, _, trunc, _ = env.step({})
        assert not any(trunc.values())
    _, _, _, trunc, _ = env.step({})
    assert trunc and all(trunc.values()) and env.agents == []


# ------------------------------------------------------- the PettingZoo conventions
def test_factories_pass_both_api_tests():
    from pettingzoo.test import api_test

    from freeagentics.worlds.pettingzoo import env, parallel_env

    parallel_api_test(parallel_env(CFG, max_cycles=30), num_cycles=60)
    api_test(env(CFG, max_cycles=30), num_cycles=60)
    assert parallel_env().config.n_agents == 8, "a default world without arguments"


@pytest.mark.parametrize("bad", [2.7, np.array([1]), True, np.bool_(False), 5, -1, "1", None])
def test_invalid_actions_are_refused(bad):
    env = GridWorldParallelEnv(CFG)
    env.reset(seed=0)
    with pytest.raises(ConfigurationError, match=r"action of 'agent_2' must be an integer move"):
        env.step({"agent_2": bad})


def test_integer_actions_of_any_integer_type_are_taken():
    env = GridWorldParallelEnv(CFG)
    env.reset(seed=0)
    env.step({"agent_0": np.int64(1), "agent_1": np.int8(2), "agent_2": 0, "agent_3": np.array(4)})


def test_state_is_in_its_space_and_shows_exhausted_resources_as_empty():
    cfg = GridWorldConfig(
        height=6,
        width=6,
        n_agents=10,
        resources=(ResourceType("food", 0.5, max_amount=1.0, regrowth=0.0, depletion=1.0),),
        initial_energy=50.0,
    )
    env = GridWorldParallelEnv(cfg, max_cycles=500)
    env.reset(seed=1)
    rng = np.random.default_rng(0)
    for _ in range(40):
        env.step({a: int(rng.integers(5)) for a in env.agents})
    state = env.state()
    assert env.state_space.contains(state)
    world = env.world
    food = world.resources[0]
    occupied = np.zeros(state.shape, dtype=bool)
    occupied.flat[world.positions_linear()[world.active]] = True
    had = world.layout.resource_kind == 0
    assert (had & (food <= 0)).any(), "some food was eaten in 40 ticks"
    assert (state[had & (food <= 0) & ~occupied] == Cell.EMPTY).all()
    assert (state[had & (food > 0) & ~occupied] == Cell.RESOURCE).all()
    assert (state[occupied] == Cell.AGENT).all()


def test_render_draws_the_state_in_rgb():
    from freeagentics.worlds.pettingzoo import CELL_COLOURS

    env = GridWorldParallelEnv(CFG, render_mode="rgb_array", cell_pixels=3)
    env.reset(seed=2)
    image = env.render()
    assert image.shape == (8 * 3, 8 * 3, 3) and image.dtype == np.uint8
    state = env.state()
    r, c = np.argwhere(state == Cell.AGENT)[0]
    assert (image[r * 3 : r * 3 + 3, c * 3 : c * 3 + 3] == CELL_COLOURS[Cell.AGENT]).all()
    assert GridWorldParallelEnv(CFG).render() is None
    with pytest.raises(ConfigurationError, match="render_mode"):
        GridWorldParallelEnv(CFG, render_mode="human")


def test_box_observations_go_through_supersuit_wrappers():
    supersuit = pytest.importorskip("supersuit")
    from freeagentics.worlds.pettingzoo import parallel_env

    plain = parallel_env(CFG)
    wrapped = supersuit.normalize_obs_v0(
        supersuit.dtype_v0(parallel_env(CFG, box_observations=True), np.float32)
    )
    raw, _ = plain.reset(seed=4)
    obs, _ = wrapped.reset(seed=4)
    high = plain.observation_space("agent_0").nvec - 1
    for agent, o in obs.items():
        assert o.dtype == np.float32 and 0.0 <= o.min() and o.max() <= 1.0
        np.testing.assert_allclose(o, raw[agent] / high, rtol=1e-6)
    obs, *_ = wrapped.step({a: 4 for a in wrapped.agents})
    assert len(obs) == 6
