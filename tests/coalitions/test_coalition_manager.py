from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

from freeagentics.coalitions import (
    CoalitionManager,
    CoalitionStatus,
    EventKind,
    GreedyFormation,
    GridClustering,
    KMeansClustering,
    Objective,
    Role,
)
from freeagentics.errors import ConfigurationError, UnknownIdError

O = 3
# agents 0-2 near (0,0); 3-5 near (10,0); 6 far away
POSITIONS = np.array([[0, 0], [1, 0], [0, 1], [10, 0], [11, 0], [10, 1], [50, 50]], dtype=float)
CAPS = np.array([[3.0], [1.0], [1.0], [1.0], [2.0], [1.0], [1.0]])


def _manager(**kwargs) -> CoalitionManager:
    options = {"num_outcomes": O, "num_capabilities": 1, "num_agents": 7, "rng": 0}
    options.update(kwargs)
    manager = CoalitionManager(options.pop("strategy", GreedyFormation()), **options)
    manager.add_objective(
        Objective(100, "reach_cell", (0, 0), (1,), capacity=3), preference_bias=[2.0, 0.0, 0.0]
    )
    manager.add_objective(
        Objective(200, "collect_resource", (10, 0), (1,), capacity=3),
        preference_bias=[0.0, 0.0, 5.0],
    )
    return manager


def _check_consistent(manager: CoalitionManager) -> None:
    st = manager.state
    active = st.status == CoalitionStatus.ACTIVE
    rows = st.membership_rows()
    np.testing.assert_array_equal(
        np.bincount(rows[rows >= 0], minlength=st.num_coalitions), st.size
    )
    assert np.all(st.status[rows[rows >= 0]] == CoalitionStatus.ACTIVE)
    assert np.all(st.membership[st.leader[active]] == st.ids[active])
    assert np.all(st.role[st.leader[active]] == Role.LEADER)
    assert (st.role == Role.LEADER).sum() == active.sum()
    assert np.all((st.role == Role.NONE) == (st.membership < 0))


def test_reform_forms_coalitions_and_reports_events():
    manager = _manager()
    seen = []
    manager.subscribe(seen.append)
    events = manager.reform(0, POSITIONS, CAPS)
    st = manager.state
    np.testing.assert_array_equal(st.membership, [0, 0, 0, 1, 1, 1, -1])
    np.testing.assert_array_equal(st.objective, [100, 200])
    np.testing.assert_array_equal(st.leader, [0, 4])  # highest capability in each
    np.testing.assert_array_equal(st.size, [3, 3])
    np.testing.assert_array_equal(st.created, [0, 0])
    kinds = events.kind.tolist()
    assert kinds == [EventKind.FORM] * 2 + [EventKind.JOIN] * 6
    np.testing.assert_array_equal(events.agent[2:], [0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(events.coalition[2:], [0, 0, 0, 1, 1, 1])
    assert len(seen) == 1 and seen[0] is events
    assert manager.history.total == 8
    _check_consistent(manager)


def test_unchanged_world_keeps_ids_and_emits_nothing():
    manager = _manager()
    manager.reform(0, POSITIONS, CAPS)
    events = manager.reform(10, POSITIONS, CAPS)
    assert len(events) == 0
    np.testing.assert_array_equal(manager.state.ids, [0, 1])
    np.testing.assert_array_equal(manager.state.created, [0, 0])


def test_moving_agent_switches_coalition_with_leave_and_join():
    manager = _manager()
    manager.reform(0, POSITIONS, CAPS)
    moved = POSITIONS.copy()
    moved[1] = [10, -0.5]  # now 0.5 from objective 200
    moved[6] = [0, 2]  # the loner is now third nearest to objective 100
    events = manager.reform(10, moved, CAPS)
    # 200 takes 3 (0.0), 1 (0.5), then 4 over 5 (tie at 1.0, lower index)
    np.testing.assert_array_equal(manager.state.membership, [0, 1, 0, 1, 1, -1, 0])
    assert events.kind.tolist() == [
        EventKind.LEAVE,
        EventKind.LEAVE,
        EventKind.JOIN,
        EventKind.JOIN,
    ]
    np.testing.assert_array_equal(events.agent, [1, 5, 1, 6])
    np.testing.assert_array_equal(events.coalition, [0, 1, 1, 0])
    _check_consistent(manager)


def test_maybe_reform_runs_every_k_ticks():
    manager = _manager(reform_every=5)
    ran = [manager.maybe_reform(t, POSITIONS, CAPS) is not None for t in range(12)]
    assert ran == [t in (0, 5, 10) for t in range(12)]


def test_preferences_follow_membership():
    manager = _manager(strength=0.5)
    base = np.array([-1.0, -1.0, -1.0])
    np.testing.assert_array_equal(manager.preferences(base), np.tile(base, (7, 1)))
    manager.reform(0, POSITIONS, CAPS)
    prefs = manager.preferences(base)
    np.testing.assert_array_equal(prefs[:3], np.tile([0.0, -1.0, -1.0], (3, 1)))
    np.testing.assert_array_equal(prefs[3:6], np.tile([-1.0, -1.0, 1.5], (3, 1)))
    np.testing.assert_array_equal(prefs[6], base)


def test_completed_objective_dissolves_its_coalition():
    manager = _manager()
    manager.reform(0, POSITIONS, CAPS)
    events = manager.complete_objective(100, tick=3)
    assert events.kind.tolist() == [EventKind.LEAVE] * 3 + [EventKind.DISSOLVE]
    np.testing.assert_array_equal(events.coalition, [0, 0, 0, 0])
    np.testing.assert_array_equal(events.tick, [3, 3, 3, 3])
    st = manager.state
    np.testing.assert_array_equal(st.membership, [-1, -1, -1, 1, 1, 1, -1])
    assert st.status[0] == CoalitionStatus.DISSOLVED and st.size[0] == 0
    base = np.zeros(O)
    np.testing.assert_array_equal(manager.preferences(base)[:3], np.zeros((3, O)))
    with pytest.raises(UnknownIdError, match="100"):
        manager.complete_objective(100, tick=4)
    # the next re-formation drops the dissolved row from the table
    manager.reform(10, POSITIONS, CAPS)
    assert 0 not in manager.state.ids
    _check_consistent(manager)


def test_dissolve_by_id_and_unknown_id():
    manager = _manager()
    manager.reform(0, POSITIONS, CAPS)
    events = manager.dissolve(1, tick=2)
    assert events.kind.tolist() == [EventKind.LEAVE] * 3 + [EventKind.DISSOLVE]
    assert len(manager.dissolve(1, tick=3)) == 0
    with pytest.raises(UnknownIdError):
        manager.dissolve(99, tick=3)
    with pytest.raises(UnknownIdError):
        manager.state.members(99)


def test_min_size_prevents_small_coalitions():
    manager = _manager(min_size=4)
    events = manager.reform(0, POSITIONS, CAPS)
    assert len(events) == 0
    assert np.all(manager.state.membership == -1)


def test_removing_leader_promotes_best_remaining_member_and_reindexes():
    manager = _manager(min_size=2)
    manager.reform(0, POSITIONS, CAPS)
    events = manager.on_agents_removed(np.array([0, 4]), tick=5)
    assert events.kind.tolist() == [EventKind.LEAVE, EventKind.LEAVE]
    np.testing.assert_array_equal(events.agent, [0, 4])  # indices before removal
    st = manager.state
    assert st.num_agents == 5
    np.testing.assert_array_equal(st.membership, [0, 0, 1, 1, -1])
    np.testing.assert_array_equal(st.size, [2, 2])
    # old agents 1 and 3 (equal capability, lowest index) lead; now at rows 0 and 2
    np.testing.assert_array_equal(st.leader, [0, 2])
    _check_consistent(manager)


def test_coalition_under_min_size_dissolves_on_removal():
    manager = _manager(min_size=3)
    manager.reform(0, POSITIONS, CAPS)
    events = manager.on_agents_removed([5], tick=1)
    assert events.kind.tolist() == [
        EventKind.LEAVE,
        EventKind.LEAVE,
        EventKind.LEAVE,
        EventKind.DISSOLVE,
    ]
    np.testing.assert_array_equal(events.agent, [5, 3, 4, -1])
    st = manager.state
    np.testing.assert_array_equal(st.membership, [0, 0, 0, -1, -1, -1])
    assert st.status[1] == CoalitionStatus.DISSOLVED
    _check_consistent(manager)
    with pytest.raises(UnknownIdError, match="agent"):
        manager.on_agents_removed([6], tick=2)


def test_population_growth_is_picked_up():
    manager = _manager()
    manager.reform(0, POSITIONS, CAPS)
    manager.on_agents_added(1)
    assert manager.state.num_agents == 8 and manager.state.membership[-1] == -1
    grown = np.vstack([POSITIONS, [[0, 0.5]], [[10, 0.5]]])
    caps = np.vstack([CAPS, [[5.0]], [[5.0]]])
    manager.reform(10, grown, caps)
    st = manager.state
    assert st.num_agents == 9
    assert st.membership[7] == 0 and st.membership[8] == 1
    np.testing.assert_array_equal(st.leader, [7, 8])
    with pytest.raises(ConfigurationError, match="on_agents_removed"):
        manager.reform(20, POSITIONS, CAPS)


def test_history_and_table_stay_bounded_over_many_reformations():
    rng = np.random.default_rng(1)
    manager = CoalitionManager(
        GridClustering(cell_size=3.0, max_size=4),
        num_outcomes=2,
        num_capabilities=1,
        num_agents=30,
        history=50,
        reform_every=1,
    )
    for tick in range(300):
        manager.maybe_reform(tick, rng.uniform(0, 10, (30, 2)), np.ones((30, 1)))
        assert manager.state.num_coalitions <= 2 * 30
    assert manager.history.total > 50
    assert len(manager.history) == 50 and manager.history._tick.shape == (50,)
    assert manager.history.events().tick[-1] == 299
    _check_consistent(manager)


def test_objective_free_coalitions_keep_ids_when_members_stay():
    manager = CoalitionManager(
        GridClustering(cell_size=5.0, max_size=10), num_outcomes=2, num_capabilities=1
    )
    manager.reform(0, POSITIONS, CAPS)
    ids = manager.state.membership.copy()
    shifted = POSITIONS.copy()
    shifted[6] = [0.5, 0.5]  # the loner joins the first group
    events = manager.reform(1, shifted, CAPS)
    np.testing.assert_array_equal(manager.state.membership[:6], ids[:6])
    assert manager.state.membership[6] == ids[0]
    assert EventKind.DISSOLVE in events.kind.tolist()  # the loner's old coalition


def test_same_seed_same_history():
    def run(seed):
        manager = CoalitionManager(
            KMeansClustering(target_size=4, max_size=6),
            num_outcomes=2,
            num_capabilities=1,
            rng=seed,
            reform_every=1,
        )
        rng = np.random.default_rng(5)
        for tick in range(5):
            manager.maybe_reform(tick, rng.uniform(0, 20, (40, 2)), np.ones((40, 1)))
        return manager.history.events(), manager.state.membership

    (a, ma), (b, mb) = run(3), run(3)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(ma, mb)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"reform_every": 0}, "reform_every"),
        ({"min_size": 0}, "min_size"),
        ({"history": 0}, "history"),
        ({"num_outcomes": 0}, "num_outcomes"),
        ({"strength": float("inf")}, "strength"),
        ({"strategy": object()}, "strategy"),
    ],
)
def test_bad_manager_parameters(kwargs, name):
    with pytest.raises(ConfigurationError, match=name):
        _manager(**kwargs)


def test_bad_objective_registration():
    manager = _manager()
    with pytest.raises(ConfigurationError, match="unique"):
        manager.add_objective(Objective(100, "reach_cell", (0, 0), (1,)))
    with pytest.raises(ConfigurationError, match="preference_bias"):
        manager.add_objective(Objective(300, "reach_cell", (0, 0), (1,)), [1.0])
    with pytest.raises(ConfigurationError, match="num_capabilities"):
        manager.add_objective(Objective(301, "reach_cell", (0, 0), (1, 1)))
    with pytest.raises(ConfigurationError, match="kind"):
        Objective(1, "fly", (0, 0))
    with pytest.raises(ConfigurationError, match="capacity"):
        Objective(1, "reach_cell", (0, 0), capacity=0)


@settings(max_examples=25, deadline=None)
@given(hst.integers(0, 2**32 - 1), hst.sampled_from(["greedy", "grid"]))
def test_random_operation_sequences_keep_state_consistent(seed, which):
    rng = np.random.default_rng(seed)
    strategy = GreedyFormation() if which == "greedy" else GridClustering(4.0, 4)
    manager = CoalitionManager(
        strategy, num_outcomes=2, num_capabilities=2, num_agents=20, min_size=2, history=64
    )
    next_objective = 0
    for tick in range(25):
        n = manager.state.num_agents
        op = rng.integers(0, 5)
        if op == 0 and n > 1:
            manager.on_agents_removed(rng.choice(n, size=int(rng.integers(1, 4))), tick)
        elif op == 1:
            manager.on_agents_added(int(rng.integers(0, 4)))
        elif op == 2:
            manager.add_objective(
                Objective(
                    next_objective,
                    "reach_cell",
                    tuple(rng.uniform(0, 10, 2)),
                    tuple(rng.integers(0, 2, 2).astype(float)),
                    int(rng.integers(1, 5)),
                ),
                rng.normal(size=2),
            )
            next_objective += 1
        elif op == 3 and len(manager.objectives):
            manager.complete_objective(int(rng.choice(manager.objectives.ids)), tick)
        else:
            n = manager.state.num_agents
            manager.reform(tick, rng.uniform(0, 10, (n, 2)), rng.integers(0, 3, (n, 2)) * 1.0)
        _check_consistent(manager)
        st = manager.state
        assert np.all(st.size[st.status == CoalitionStatus.ACTIVE] >= 2)
        active_objectives = st.objective[
            (st.status == CoalitionStatus.ACTIVE) & (st.objective >= 0)
        ]
        assert np.unique(active_objectives).size == active_objectives.size
        assert np.all(np.isin(active_objectives, manager.objectives.ids))
        assert manager.preferences(np.zeros(2)).shape == (st.num_agents, 2)
