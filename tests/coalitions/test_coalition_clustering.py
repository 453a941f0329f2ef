from __future__ import annotations

import numpy as np
import pytest

from freeagentics.coalitions import (
    GridClustering,
    HierarchicalClustering,
    KMeansClustering,
    ObjectiveSet,
    Role,
)
from freeagentics.errors import ConfigurationError

NO_OBJECTIVES = ObjectiveSet([], 1)


def _form(strategy, positions, capabilities=None, available=None, seed=0):
    n = len(positions)
    caps = np.ones((n, 1)) if capabilities is None else capabilities
    avail = np.ones(n, bool) if available is None else available
    return strategy.form(
        np.asarray(positions, float), caps, avail, NO_OBJECTIVES, np.random.default_rng(seed)
    )


GRID_POINTS = [[1, 1], [2, 2], [3, 3], [15, 1], [1, 15]]


def test_grid_groups_by_cell_and_splits_oversized_cells():
    f = _form(GridClustering(cell_size=10, max_size=2), GRID_POINTS)
    # cell (0,0) holds 3 agents -> strips {0,1},{2}; cells numbered x-major: (0,1) before (1,0)
    np.testing.assert_array_equal(f.assignment, [0, 0, 1, 3, 2])
    np.testing.assert_array_equal(f.group_objective, [-1, -1, -1, -1])
    np.testing.assert_array_equal(f.leader, [0, 2, 4, 3])


def test_grid_far_outlier_uses_exact_fallback_with_same_groups():
    points = np.array(GRID_POINTS, dtype=float)
    far = np.vstack([points, [[1e17, 1e17]]])
    near = _form(GridClustering(cell_size=10, max_size=2), points)
    spread = _form(GridClustering(cell_size=10, max_size=2), far)
    np.testing.assert_array_equal(spread.assignment, [*near.assignment, 4])


def test_grid_min_size_drops_small_groups_and_skips_unavailable():
    available = np.array([True, True, False, True, True])
    f = _form(GridClustering(cell_size=10, max_size=2, min_size=2), GRID_POINTS, None, available)
    np.testing.assert_array_equal(f.assignment, [0, 0, -1, -1, -1])


def test_grid_leader_has_highest_capability():
    caps = np.array([[0.0], [5.0], [1.0], [0.0], [0.0]])
    f = _form(GridClustering(cell_size=10, max_size=3), GRID_POINTS, caps)
    assert f.leader[0] == 1 and f.role[1] == Role.LEADER
    assert f.role[0] == Role.MEMBER and f.role[2] == Role.MEMBER


def test_hierarchical_threshold_groups_numbered_by_lowest_member():
    points = [[50, 50], [0, 0], [10, 10], [0, 1], [10, 11]]
    f = _form(HierarchicalClustering(distance_threshold=2, max_size=5), points)
    np.testing.assert_array_equal(f.assignment, [0, 1, 2, 1, 2])


def test_hierarchical_refuses_too_many_agents():
    points = np.zeros((11, 2))
    with pytest.raises(ConfigurationError, match="max_agents"):
        _form(HierarchicalClustering(1.0, 5, max_agents=10), points)


def test_kmeans_is_deterministic_under_seed_and_bounded():
    rng = np.random.default_rng(3)
    points = rng.uniform(0, 100, (400, 2))
    strategy = KMeansClustering(target_size=10, max_size=12, min_size=2)
    a, b = _form(strategy, points, seed=7), _form(strategy, points, seed=7)
    np.testing.assert_array_equal(a.assignment, b.assignment)
    sizes = np.bincount(a.assignment[a.assignment >= 0])
    assert sizes.max() <= 12 and sizes.min() >= 2


@pytest.mark.parametrize(
    ("factory", "name"),
    [
        (lambda: GridClustering(cell_size=0, max_size=3), "cell_size"),
        (lambda: GridClustering(cell_size=1, max_size=0), "max_size"),
        (lambda: GridClustering(cell_size=1, max_size=3, min_size=4), "min_size"),
        (lambda: HierarchicalClustering(1, 3, method="nope"), "method"),
        (lambda: KMeansClustering(target_size=5, max_size=3), "target_size"),
    ],
)
def test_bad_parameters(factory, name):
    with pytest.raises(ConfigurationError, match=name):
        factory()
