from __future__ import annotations

import math

import numpy as np
import pytest

from freeagentics.coalitions import GreedyFormation, Objective, ObjectiveSet, Role
from freeagentics.errors import ConfigurationError

RNG = np.random.default_rng(0)


def _world():
    positions = np.array([[0.5, 0.0], [3.0, 0.0], [1.0, 0.0], [0.0, 1.0], [10.0, 10.0]])
    capabilities = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
    available = np.array([True, True, True, True, False])
    return positions, capabilities, available


def _objectives(priority_a: float, priority_b: float) -> ObjectiveSet:
    return ObjectiveSet(
        [
            Objective(10, "reach_cell", (0, 0), (1, 0), capacity=2, priority=priority_a),
            Objective(11, "collect_resource", (1, 0), (), capacity=2, priority=priority_b),
        ],
        num_capabilities=2,
    )


def test_priority_order_nearest_capable_agents():
    positions, capabilities, available = _world()
    f = GreedyFormation().form(positions, capabilities, available, _objectives(2, 1), RNG)
    # A (capability 0 required) takes 0 (0.5 away) and 3 (1.0); B takes 2 and 1
    np.testing.assert_array_equal(f.assignment, [0, 1, 1, 0, -1])
    np.testing.assert_array_equal(f.group_objective, [0, 1])
    # A: equal match score, agent 0 closer; B: no requirement, agent 2 on the target
    np.testing.assert_array_equal(f.leader, [0, 2])
    np.testing.assert_array_equal(
        f.role, [Role.LEADER, Role.MEMBER, Role.LEADER, Role.MEMBER, Role.NONE]
    )


def test_higher_priority_objective_chooses_first():
    positions, capabilities, available = _world()
    f = GreedyFormation().form(positions, capabilities, available, _objectives(1, 2), RNG)
    # B now first: 2 (0.0) and 0 (0.5); A gets the remaining capable 3 and 1
    np.testing.assert_array_equal(f.assignment, [1, 0, 1, 0, -1])


def test_ties_go_to_lower_index_even_past_the_first_query():
    # 60 agents on one point: the KD-tree query must widen past its first k
    positions = np.tile([3.0, 4.0], (60, 1))
    capabilities = np.ones((60, 1))
    objectives = ObjectiveSet(
        [
            Objective(0, "reach_cell", (0, 0), capacity=20, priority=5),
            Objective(1, "reach_cell", (0, 0), capacity=5, priority=1),
        ],
        num_capabilities=1,
    )
    f = GreedyFormation().form(positions, capabilities, np.ones(60, bool), objectives, RNG)
    np.testing.assert_array_equal(np.flatnonzero(f.assignment == 0), np.arange(20))
    np.testing.assert_array_equal(np.flatnonzero(f.assignment == 1), np.arange(20, 25))
    assert np.all(f.assignment[25:] == -1)


@pytest.mark.parametrize("seed", range(5))
def test_tie_on_a_circle_goes_to_lowest_index_whatever_the_tree_order(seed):
    # all 36 integer points at distance exactly 325 from the target, in shuffled order
    r = 325
    pts = []
    for x in range(-r, r + 1):
        y = math.isqrt(r * r - x * x)
        if y * y == r * r - x * x:
            pts += [(x, y), (x, -y)] if y else [(x, 0)]
    assert len(pts) > 16
    positions = np.random.default_rng(seed).permutation(np.array(pts, dtype=float))
    objectives = ObjectiveSet([Objective(0, "reach_cell", (0, 0), capacity=1)], 0)
    n = len(positions)
    f = GreedyFormation().form(positions, np.zeros((n, 0)), np.ones(n, bool), objectives, RNG)
    np.testing.assert_array_equal(np.flatnonzero(f.assignment == 0), [0])


def test_symmetric_tie_prefers_lower_index():
    positions = np.array([[0.0, 1.0], [1.0, 0.0], [-1.0, 0.0]])
    objectives = ObjectiveSet([Objective(0, "reach_cell", (0, 0), capacity=2)], 0)
    f = GreedyFormation().form(positions, np.zeros((3, 0)), np.ones(3, bool), objectives, RNG)
    np.testing.assert_array_equal(f.assignment, [0, 0, -1])


def test_no_capable_agent_leaves_objective_empty():
    positions, capabilities, available = _world()
    objectives = ObjectiveSet([Objective(0, "explore_region", (0, 0), (2, 0), capacity=3)], 2)
    f = GreedyFormation().form(positions, capabilities, available, objectives, RNG)
    assert np.all(f.assignment == -1)
    np.testing.assert_array_equal(f.leader, [-1])


def test_shape_mismatch_is_a_configuration_error():
    positions, capabilities, available = _world()
    with pytest.raises(ConfigurationError, match="capabilities"):
        GreedyFormation().form(positions, capabilities[:, :1], available, _objectives(1, 1), RNG)
    with pytest.raises(ConfigurationError, match="available"):
        GreedyFormation().form(positions, capabilities, available[:2], _objectives(1, 1), RNG)
