"""Re-formation at population scale (marked slow)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from freeagentics.coalitions import (
    CoalitionManager,
    GreedyFormation,
    GridClustering,
    Objective,
    OptimalAssignment,
)

N = 100_000


def _world(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    side = 3.0 * np.sqrt(n)
    positions = rng.uniform(0, side, (n, 2))
    caps = rng.integers(0, 2, (n, 3)).astype(float)
    objectives = [
        Objective(
            j,
            "reach_cell",
            tuple(rng.uniform(0, side, 2)),
            tuple(rng.integers(0, 2, 3).astype(float)),
            capacity=10,
            priority=float(rng.integers(0, 3)),
        )
        for j in range(n // 100)
    ]
    return positions, caps, objectives


def _manager(strategy, objectives) -> CoalitionManager:
    manager = CoalitionManager(strategy, num_outcomes=4, num_capabilities=3, rng=0)
    for j, objective in enumerate(objectives):
        manager.add_objective(objective, np.eye(4)[j % 4])
    return manager


@pytest.mark.slow
def test_grid_clustering_handles_100k_agents_well_under_a_second():
    positions, caps, _ = _world(N)
    manager = _manager(GridClustering(cell_size=6.0, max_size=8), [])
    start = time.perf_counter()
    manager.reform(0, positions, caps)
    elapsed = time.perf_counter() - start
    sizes = manager.state.size
    assert sizes.max() <= 8 and (manager.state.membership >= 0).all()
    assert elapsed < 1.0


@pytest.mark.slow
@pytest.mark.parametrize("strategy", [GreedyFormation(), OptimalAssignment()])
def test_objective_strategies_at_100k_fill_objectives(strategy):
    positions, caps, objectives = _world(N)
    manager = _manager(strategy, objectives)
    manager.reform(0, positions, caps)
    st = manager.state
    assert st.num_coalitions == len(objectives)
    assert (st.membership >= 0).sum() >= 0.99 * 10 * len(objectives)
    prefs = manager.preferences(np.zeros(4))
    assert prefs.shape == (N, 4)
    # members carry their objective's one-hot bias, everyone else stays at zero
    np.testing.assert_array_equal(prefs.sum(axis=1), (st.membership >= 0).astype(float))
