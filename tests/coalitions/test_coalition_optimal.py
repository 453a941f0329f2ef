from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freeagentics.coalitions import (
    GreedyFormation,
    Objective,
    ObjectiveSet,
    OptimalAssignment,
    assignment_cost,
)
from freeagentics.errors import ConfigurationError

RNG = np.random.default_rng(0)


def test_beats_greedy_where_greedy_is_myopic():
    positions = np.array([[1.0, 0.0], [-5.0, 0.0]])
    objectives = ObjectiveSet(
        [
            Objective(0, "reach_cell", (0, 0), capacity=1, priority=1),
            Objective(1, "reach_cell", (2, 0), capacity=1),
        ],
        0,
    )
    caps = np.zeros((2, 0))
    greedy = GreedyFormation().form(positions, caps, np.ones(2, bool), objectives, RNG)
    optimal = OptimalAssignment().form(positions, caps, np.ones(2, bool), objectives, RNG)
    np.testing.assert_array_equal(greedy.assignment, [0, 1])  # total distance 1 + 7
    np.testing.assert_array_equal(optimal.assignment, [1, 0])  # total distance 5 + 1


def test_capacity_is_replicated_and_incapable_agents_are_forbidden():
    positions = np.array([[0, 0], [0, 1], [0, 2], [0, 3], [0, 0.5]], dtype=float)
    caps = np.array([[1.0], [1.0], [1.0], [1.0], [0.0]])
    objectives = ObjectiveSet([Objective(0, "collect_resource", (0, 0), (1,), capacity=3)], 1)
    f = OptimalAssignment().form(positions, caps, np.ones(5, bool), objectives, RNG)
    # agent 4 is closest after agent 0 but lacks the capability
    np.testing.assert_array_equal(f.assignment, [0, 0, 0, -1, -1])


def test_filling_a_slot_beats_leaving_it_empty_however_far():
    positions = np.array([[1000.0, 0.0]])
    objectives = ObjectiveSet([Objective(0, "reach_cell", (0, 0), capacity=2)], 0)
    f = OptimalAssignment().form(positions, np.zeros((1, 0)), np.ones(1, bool), objectives, RNG)
    np.testing.assert_array_equal(f.assignment, [0])
    np.testing.assert_array_equal(f.leader, [0])


def test_more_filled_slots_win_over_lower_cost():
    # A could sit on X for free, but then only one slot is filled; A->Y and B->X fill both
    positions = np.array([[0.0, 0.0], [20.0, 0.0]])
    caps = np.array([[1.0, 1.0], [1.0, 0.0]])
    objectives = ObjectiveSet(
        [
            Objective(0, "reach_cell", (0, 0), (1, 0), capacity=1),
            Objective(1, "reach_cell", (10, 0), (0, 1), capacity=1),
        ],
        2,
    )
    for dense_limit in (4_000_000, 0):
        f = OptimalAssignment(capability_weight=0, dense_limit=dense_limit).form(
            positions, caps, np.ones(2, bool), objectives, RNG
        )
        np.testing.assert_array_equal(f.assignment, [1, 0])


def test_capability_match_lowers_cost():
    # agent 1 is farther by 0.5 but scores 2 more on the required capability
    positions = np.array([[1.0, 0.0], [1.5, 0.0]])
    caps = np.array([[1.0], [3.0]])
    objectives = ObjectiveSet([Objective(0, "reach_cell", (0, 0), (1,), capacity=1)], 1)
    f = OptimalAssignment().form(positions, caps, np.ones(2, bool), objectives, RNG)
    np.testing.assert_array_equal(f.assignment, [-1, 0])
    f0 = OptimalAssignment(capability_weight=0).form(
        positions, caps, np.ones(2, bool), objectives, RNG
    )
    np.testing.assert_array_equal(f0.assignment, [0, -1])


@st.composite
def instances(draw, max_agents=6, max_objectives=3):
    n = draw(st.integers(1, max_agents))
    m = draw(st.integers(1, max_objectives))
    k = 2
    coord = st.integers(0, 6)
    positions = np.array([[draw(coord), draw(coord)] for _ in range(n)], dtype=float)
    caps = np.array([[draw(st.integers(0, 2)) for _ in range(k)] for _ in range(n)], dtype=float)
    available = np.array([draw(st.booleans()) for _ in range(n)])
    objectives = [
        Objective(
            id=j,
            kind="reach_cell",
            target=(draw(coord), draw(coord)),
            required=tuple(float(draw(st.integers(0, 1))) for _ in range(k)),
            capacity=draw(st.integers(1, 2)),
            priority=float(draw(st.integers(0, 2))),
        )
        for j in range(m)
    ]
    return positions, caps, available, ObjectiveSet(objectives, k)


def _brute_force(positions, caps, available, objectives, weight):
    cost = assignment_cost(positions, caps, objectives, weight)
    choices = [
        [-1]
        + ([j for j in range(len(objectives)) if np.isfinite(cost[i, j])] if available[i] else [])
        for i in range(len(positions))
    ]
    best = (-1, np.inf)
    for combo in itertools.product(*choices):
        combo = np.array(combo)
        counts = np.bincount(combo[combo >= 0], minlength=len(objectives))
        if np.any(counts > objectives.capacity):
            continue
        filled = int((combo >= 0).sum())
        total = float(sum(cost[i, j] for i, j in enumerate(combo) if j >= 0))
        if filled > best[0] or (filled == best[0] and total < best[1] - 1e-12):
            best = (filled, total)
    return best


@settings(max_examples=60, deadline=None)
@given(instances(), st.sampled_from([0.0, 1.0, 3.0]), st.sampled_from([None, 2.0]))
def test_matches_brute_force_optimum(instance, weight, factor):
    positions, caps, available, objectives = instance
    strategy = OptimalAssignment(capability_weight=weight, candidate_factor=factor)
    f = strategy.form(positions, caps, available, objectives, RNG)
    cost = assignment_cost(positions, caps, objectives, weight)
    members = np.flatnonzero(f.assignment >= 0)
    filled, total = _brute_force(positions, caps, available, objectives, weight)
    assert members.size == filled
    assert cost[members, f.assignment[members]].sum() == pytest.approx(total, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(instances(max_agents=30, max_objectives=5), st.booleans())
def test_sparse_solver_finds_the_same_optimum(instance, _):
    positions, caps, available, objectives = instance
    dense = OptimalAssignment(candidate_factor=None).form(
        positions, caps, available, objectives, RNG
    )
    sparse = OptimalAssignment(candidate_factor=None, dense_limit=0).form(
        positions, caps, available, objectives, RNG
    )
    cost = assignment_cost(positions, caps, objectives)

    def total(f):
        members = np.flatnonzero(f.assignment >= 0)
        return members.size, cost[members, f.assignment[members]].sum()

    (n_dense, c_dense), (n_sparse, c_sparse) = total(dense), total(sparse)
    assert n_dense == n_sparse
    assert c_dense == pytest.approx(c_sparse, abs=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"capability_weight": -1.0}, "capability_weight"),
        ({"candidate_factor": 0.5}, "candidate_factor"),
        ({"min_candidates": 0}, "min_candidates"),
        ({"dense_limit": -1}, "dense_limit"),
    ],
)
def test_bad_parameters(kwargs, name):
    with pytest.raises(ConfigurationError, match=name):
        OptimalAssignment(**kwargs)
