"""Movement: walls and edges block, and no two agents ever share a cell."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freeagentics.worlds import MOVE_DELTAS, GridWorld, GridWorldConfig, Layout, Move
from freeagentics.worlds._movement import resolve_moves

U, D, L, R, S = Move.UP, Move.DOWN, Move.LEFT, Move.RIGHT, Move.STAY


def make_world(rows, positions, **config):
    layout = Layout.from_text(rows)
    h, w = layout.shape
    cfg = GridWorldConfig(height=h, width=w, n_agents=len(positions), **config)
    return GridWorld(cfg, seed=0, layout=layout, positions=np.array(positions).reshape(-1, 2))


def test_each_move_code_displaces_as_named():
    for move, delta in [(U, (-1, 0)), (D, (1, 0)), (L, (0, -1)), (R, (0, 1)), (S, (0, 0))]:
        world = make_world(["...", "...", "..."], [(1, 1)])
        result = world.step(np.array([move]))
        assert tuple(world.positions[0]) == (1 + delta[0], 1 + delta[1])
        assert result.moved[0] == (move != S)


@pytest.mark.parametrize("move", [U, L])
def test_grid_edge_blocks(move):
    world = make_world(["..", ".."], [(0, 0)])
    result = world.step(np.array([move]))
    assert tuple(world.positions[0]) == (0, 0) and not result.moved[0]


@pytest.mark.parametrize(("move", "start"), [(R, (1, 0)), (U, (2, 1)), (L, (1, 2)), (D, (0, 1))])
def test_walls_block(move, start):
    world = make_world(["...", ".#.", "..."], [start])
    world.step(np.array([move]))
    assert tuple(world.positions[0]) == start


def test_contest_for_one_cell_has_exactly_one_winner_and_both_can_win():
    winners = set()
    for seed in range(40):
        world = make_world(["...", "..."], [(0, 0), (0, 2)])
        world.reset(seed, layout=world.layout, positions=np.array([(0, 0), (0, 2)]))
        result = world.step(np.array([R, L]))
        assert result.moved.sum() == 1
        assert (1, 1) not in set(map(tuple, world.positions.tolist()))
        winners.add(int(np.flatnonzero(result.moved)[0]))
    assert winners == {0, 1}  # priority is random, not index order


def test_swap_is_blocked():
    world = make_world(["...."], [(0, 1), (0, 2)])
    result = world.step(np.array([R, L]))
    assert not result.moved.any()
    assert world.positions.tolist() == [[0, 1], [0, 2]]


def test_queue_follows_its_leader():
    world = make_world(["....."], [(0, 0), (0, 1), (0, 2)])
    result = world.step(np.array([R, R, R]))
    assert result.moved.all()
    assert world.positions.tolist() == [[0, 1], [0, 2], [0, 3]]


def test_blocked_leader_blocks_the_whole_queue():
    world = make_world(["...#"], [(0, 0), (0, 1), (0, 2)])
    result = world.step(np.array([R, R, R]))
    assert not result.moved.any()
    assert world.positions.tolist() == [[0, 0], [0, 1], [0, 2]]


def test_rotation_of_four_is_allowed():
    world = make_world(["..", ".."], [(0, 0), (0, 1), (1, 1), (1, 0)])
    result = world.step(np.array([R, D, L, U]))
    assert result.moved.all()
    assert world.positions.tolist() == [[0, 1], [1, 1], [1, 0], [0, 0]]


def test_exhausted_agent_stays_and_blocks():
    world = make_world(["..."], [(0, 0), (0, 1)], initial_energy=1.0, energy_cost_per_move=1.0)
    world.step(np.array([S, R]))  # agent 1 spends its last energy moving to (0, 2)
    assert world.energy[1] == 0 and not world.alive[1]
    result = world.step(np.array([R, L]))
    assert world.positions.tolist() == [[0, 1], [0, 2]]
    assert result.moved.tolist() == [True, False]
    result = world.step(np.array([R, S]))
    assert not result.moved[0], "an exhausted agent still occupies its cell"


def reference_moves(positions, actions, alive, priority, walls):
    """Readable re-statement of the movement rules, iterated to a fixed point."""
    h, w = walls.shape
    pos = [tuple(p) for p in positions.tolist()]
    target = {}
    for i, (r, c) in enumerate(pos):
        if not alive[i] or actions[i] == S:
            continue
        t = (r + MOVE_DELTAS[actions[i]][0], c + MOVE_DELTAS[actions[i]][1])
        if 0 <= t[0] < h and 0 <= t[1] < w and not walls[t]:
            target[i] = t
    movers = set()
    for i, t in target.items():
        rivals = [j for j, u in target.items() if u == t]
        if max(rivals, key=lambda j: (priority[j], -j)) == i:
            movers.add(i)
    at = {p: i for i, p in enumerate(pos)}
    for i in list(movers):
        j = at.get(target[i])
        if j in movers and target[j] == pos[i]:
            movers -= {i, j}
    changed = True
    while changed:
        changed = False
        for i in list(movers):
            j = at.get(target[i])
            if j is not None and j not in movers:
                movers.discard(i)
                changed = True
    return [target[i] if i in movers else pos[i] for i in range(len(pos))]


@st.composite
def crowded_scenes(draw):
    h = draw(st.integers(1, 6))
    w = draw(st.integers(1, 6))
    walls = np.array(draw(st.lists(st.booleans(), min_size=h * w, max_size=h * w))).reshape(h, w)
    free = np.flatnonzero(~walls)
    n = draw(st.integers(0, free.size))
    cells = draw(st.permutations(free.tolist()))[:n]
    actions = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    alive = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    priority = draw(st.permutations(list(range(n))))
    return walls, np.array(cells, dtype=np.int64), actions, alive, priority


@settings(max_examples=300, deadline=None)
@given(crowded_scenes())
def test_kernel_matches_reference_rules(scene):
    walls, cells, actions, alive, priority = scene
    h, w = walls.shape
    positions = np.stack(np.divmod(cells, w), axis=1).astype(np.int32).reshape(-1, 2)
    occupancy = np.full((h, w), -1, dtype=np.int32)
    occupancy.flat[cells] = np.arange(cells.size)
    claim = np.full((h, w), -1, dtype=np.int32)
    expected = reference_moves(positions, actions, alive, priority, walls)
    before = positions.copy()
    moved = resolve_moves(
        positions,
        np.array(actions, dtype=np.intp),
        np.array(alive, dtype=bool),
        np.array(priority, dtype=np.float64),
        walls,
        occupancy,
        claim,
        MOVE_DELTAS,
    )
    assert [tuple(p) for p in positions.tolist()] == expected
    assert moved.tolist() == (positions != before).any(axis=1).tolist()
    assert (claim == -1).all()
    expected_occ = np.full((h, w), -1)
    expected_occ[positions[:, 0], positions[:, 1]] = np.arange(len(positions))
    assert (occupancy == expected_occ).all()


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.tuples(st.integers(1, 8), st.integers(1, 8)),
    wall_density=st.floats(0.0, 0.6),
    crowd=st.floats(0.0, 1.0),
    data=st.data(),
)
def test_no_two_agents_share_a_cell_and_none_on_walls(seed, size, wall_density, crowd, data):
    h, w = size
    probe = GridWorld(
        GridWorldConfig(height=h, width=w, n_agents=0, wall_density=wall_density, n_goals=0),
        seed=seed,
    )
    n = int(crowd * np.count_nonzero(~probe.walls))
    cfg = GridWorldConfig(height=h, width=w, n_agents=n, wall_density=wall_density, n_goals=0)
    world = GridWorld(cfg, seed=seed)
    for _ in range(10):
        actions = np.array(
            data.draw(st.lists(st.integers(0, 4), min_size=n, max_size=n)), dtype=np.int64
        )
        before = world.positions.copy()
        result = world.step(actions)
        lin = world.positions_linear()
        assert np.unique(lin).size == n
        assert not world.walls.flat[lin].any()
        step = np.abs(world.positions - before).sum(axis=1)
        assert set(step.tolist()) <= {0, 1}
        assert (result.moved == (step == 1)).all()
        displacement = (world.positions - before)[result.moved]
        assert (displacement == MOVE_DELTAS[actions][result.moved]).all()
