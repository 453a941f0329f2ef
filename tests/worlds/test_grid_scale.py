"""Population scale: 10^5 agents on a 10^6-cell grid step well inside a frame budget."""

from __future__ import annotations

import time

import numpy as np
import pytest

from freeagentics.worlds import GridWorld, GridWorldConfig, ResourceType


@pytest.mark.slow
def test_hundred_thousand_agents_step_under_50_ms():
    cfg = GridWorldConfig(
        height=1000,
        width=1000,
        n_agents=100_000,
        wall_density=0.1,
        n_goals=100,
        hazard_density=0.02,
        resources=(ResourceType("food", 0.05), ResourceType("water", 0.03)),
    )
    world = GridWorld(cfg, seed=0)
    rng = np.random.default_rng(1)
    world.step(rng.integers(0, 5, world.n_slots))  # compile / warm caches
    times = []
    for _ in range(7):
        actions = rng.integers(0, 5, world.n_slots)
        start = time.perf_counter()
        result = world.step(actions)
        times.append(time.perf_counter() - start)
    assert np.median(times) < 0.050, f"median step {1000 * np.median(times):.1f} ms"
    assert result.moved.mean() > 0.4
    lin = world.positions_linear()
    assert np.unique(lin).size == lin.size and not world.walls.flat[lin].any()
