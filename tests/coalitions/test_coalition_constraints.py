"""Properties every strategy keeps on random instances."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from freeagentics.coalitions import (
    GreedyFormation,
    GridClustering,
    HierarchicalClustering,
    KMeansClustering,
    Objective,
    ObjectiveSet,
    OptimalAssignment,
    Role,
    capable_mask,
)

OBJECTIVE_STRATEGIES = [
    GreedyFormation(),
    OptimalAssignment(),
    OptimalAssignment(candidate_factor=None),
    OptimalAssignment(candidate_factor=None, dense_limit=0),
    OptimalAssignment(candidate_factor=1.0, min_candidates=1, dense_limit=0),
]
CLUSTER_STRATEGIES = [
    GridClustering(cell_size=4.0, max_size=3, min_size=2),
    HierarchicalClustering(distance_threshold=3.0, max_size=4),
    KMeansClustering(target_size=3, max_size=4, min_size=1),
]


@st.composite
def worlds(draw):
    n = draw(st.integers(1, 40))
    m = draw(st.integers(0, 6))
    k = 3
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    positions = rng.integers(0, 12, (n, 2)).astype(float)
    caps = rng.integers(0, 3, (n, k)).astype(float)
    available = rng.random(n) < 0.8
    objectives = ObjectiveSet(
        [
            Objective(
                j + 100,
                "explore_region",
                tuple(rng.integers(0, 12, 2)),
                tuple(rng.integers(0, 3, k) * (rng.random(k) < 0.5)),
                capacity=int(rng.integers(1, 5)),
                priority=float(rng.integers(0, 3)),
            )
            for j in range(m)
        ],
        k,
    )
    return positions, caps, available, objectives, seed


def _check_leaders(f):
    groups = np.flatnonzero(np.bincount(f.assignment[f.assignment >= 0], minlength=f.num_groups))
    assert np.all(f.leader[groups] >= 0)
    assert np.all(f.assignment[f.leader[groups]] == groups)
    assert np.all(f.role[f.leader[groups]] == Role.LEADER)
    assert (f.role == Role.LEADER).sum() == groups.size
    assert np.all((f.role == Role.NONE) == (f.assignment < 0))


@settings(max_examples=40, deadline=None)
@given(worlds(), st.integers(0, len(OBJECTIVE_STRATEGIES) - 1))
def test_objective_strategies_respect_capacity_capability_availability(world, which):
    positions, caps, available, objectives, seed = world
    f = OBJECTIVE_STRATEGIES[which].form(
        positions, caps, available, objectives, np.random.default_rng(seed)
    )
    members = np.flatnonzero(f.assignment >= 0)
    assert np.all(available[members])
    counts = np.bincount(f.assignment[members], minlength=len(objectives))
    assert np.all(counts <= objectives.capacity)
    for m in range(len(objectives)):
        assert np.all(capable_mask(caps[f.assignment == m], objectives.required[m]))
    _check_leaders(f)


@settings(max_examples=40, deadline=None)
@given(worlds(), st.sampled_from([0, 2, 3]))
def test_objective_strategies_fill_when_free_capable_agents_remain(world, which):
    # greedy and exact optimal only: a candidate-restricted optimum may leave slots empty
    positions, caps, available, objectives, seed = world
    f = OBJECTIVE_STRATEGIES[which].form(
        positions, caps, available, objectives, np.random.default_rng(seed)
    )
    free = available & (f.assignment < 0)
    counts = np.bincount(f.assignment[f.assignment >= 0], minlength=len(objectives))
    for m in range(len(objectives)):
        if counts[m] < objectives.capacity[m]:
            assert not np.any(capable_mask(caps[free], objectives.required[m]))


@settings(max_examples=40, deadline=None)
@given(worlds(), st.integers(0, len(CLUSTER_STRATEGIES) - 1))
def test_cluster_sizes_are_bounded_and_deterministic(world, which):
    positions, caps, available, objectives, seed = world
    strategy = CLUSTER_STRATEGIES[which]
    f = strategy.form(positions, caps, available, objectives, np.random.default_rng(seed))
    g = strategy.form(positions, caps, available, objectives, np.random.default_rng(seed))
    np.testing.assert_array_equal(f.assignment, g.assignment)
    members = np.flatnonzero(f.assignment >= 0)
    assert np.all(available[members])
    sizes = np.bincount(f.assignment[members], minlength=f.num_groups)
    assert np.all(sizes <= strategy.max_size) and np.all(sizes >= strategy.min_size)
    assert np.all(f.group_objective == -1)
    _check_leaders(f)
