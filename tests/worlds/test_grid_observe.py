"""Local observations on hand-made layouts, checked code by code."""

from __future__ import annotations

import numpy as np
import pytest

from freeagentics.errors import ConfigurationError
from freeagentics.worlds import (
    Cell,
    GridWorld,
    GridWorldConfig,
    Layout,
    Move,
    ResourceType,
    n_cell_codes,
    neighbourhood_offsets,
    resource_code,
)

E, O, G, A, X, H = Cell.EMPTY, Cell.OBSTACLE, Cell.GOAL, Cell.AGENT, Cell.OUT_OF_BOUNDS, Cell.HAZARD
KINDS = (ResourceType("food"), ResourceType("water"))


def make_world(rows, positions, **config):
    layout = Layout.from_text(rows)
    h, w = layout.shape
    cfg = GridWorldConfig(
        height=h, width=w, n_agents=len(positions), resources=KINDS, hazard_density=0, **config
    )
    return GridWorld(cfg, seed=0, layout=layout, positions=np.array(positions).reshape(-1, 2))


def test_codes_match_the_explorer_outcome_order():
    assert [int(c) for c in (E, O, G, A, X, H)] == [0, 1, 2, 3, 4, 5]
    assert resource_code(0) == 6 and resource_code(1) == 7 and n_cell_codes(2) == 8


def test_radius_one_order_is_centre_up_down_left_right():
    assert neighbourhood_offsets(1).tolist() == [[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]]
    assert neighbourhood_offsets(0).tolist() == [[0, 0]]


def test_larger_radius_is_the_full_diamond_without_repeats():
    for radius in range(5):
        off = neighbourhood_offsets(radius)
        assert off.shape == (2 * radius * (radius + 1) + 1, 2)
        assert len({tuple(o) for o in off.tolist()}) == off.shape[0]
        assert (np.abs(off).sum(axis=1) <= radius).all()
        assert (np.diff(np.abs(off).sum(axis=1)) >= 0).all(), "rings by distance"
    with pytest.raises(ConfigurationError, match="radius"):
        neighbourhood_offsets(-1)


def test_observations_on_a_hand_made_layout():
    world = make_world(
        [
            "G#0..",
            "..1H.",
            "...#.",
        ],
        [(0, 0), (1, 1), (1, 4), (1, 0)],
    )
    obs = world.observe()
    assert obs.dtype == np.int32 and obs.shape == (4, 5)
    #            centre          up  down  left  right
    assert obs[0].tolist() == [G, X, A, X, O]
    assert obs[1].tolist() == [E, O, E, A, resource_code(1)]
    assert obs[2].tolist() == [E, E, E, H, X]
    assert obs[3].tolist() == [E, A, E, X, A]


def test_centre_reports_the_cell_under_the_agent_and_neighbours_update_after_moves():
    world = make_world(["0.G"], [(0, 0), (0, 2)])
    assert world.observe().tolist() == [
        [resource_code(0), X, X, X, E],
        [G, X, X, E, X],
    ]
    world.step(np.array([Move.STAY, Move.LEFT]))
    assert world.observe()[0].tolist()[4] == A
    assert world.observe()[1].tolist() == [E, X, X, A, G]


def test_radius_two_observation():
    world = make_world(["#....", ".....", "..G.."], [(1, 2)], observation_radius=2)
    offsets = world.observation_offsets
    obs = world.observe()[0]
    expected = {(-2, 0): X, (2, 0): X, (0, -2): E, (0, 2): E, (1, 0): G, (-1, -1): E}
    for (dr, dc), code in expected.items():
        m = int(np.flatnonzero((offsets == (dr, dc)).all(axis=1))[0])
        assert obs[m] == code, (dr, dc)
    assert obs.shape == (13,)
    world2 = make_world(["#....", ".....", "..G.."], [(1, 1)], observation_radius=2)
    assert world2.observe()[0][[m for m, o in enumerate(offsets.tolist()) if o == [-1, -1]]] == O


def test_positions_linear_and_free_slots():
    world = make_world(["....", "...."], [(0, 3), (1, 2), (1, 0)])
    assert world.positions_linear().tolist() == [3, 6, 4]
    world.remove_agents([1])
    assert world.positions_linear().tolist() == [3, -1, 4]
    assert world.observe()[1].tolist() == [X] * 5, "free slots read out of bounds"
