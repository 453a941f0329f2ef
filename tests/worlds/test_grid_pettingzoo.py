"""The PettingZoo Parallel API adapter."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pettingzoo")

from pettingzoo.test import parallel_api_test

from freeagentics.worlds import GridWorldConfig, ResourceType
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
