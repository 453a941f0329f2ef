"""Baseline controllers: greedy really takes shortest paths, random really is uniform."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse
from scipy.sparse.csgraph import shortest_path
from scipy.stats import chisquare

from freeagentics.simulation import Simulation, SimulationConfig
from freeagentics.simulation._paths import distance_field, nearest_unvisited_moves
from freeagentics.simulation.baselines import GreedyController, RandomController
from freeagentics.worlds import MOVE_DELTAS, GridWorldConfig, Layout, ResourceType

# The straight line from the start (row 1, col 1) to the food (row 1, col 7) is walled
# off: the shortest path winds down and up the middle corridors (12 moves); the way
# round the bottom is 16.
MAZE = """
#########
#...#...#
#.#.#.#.#
#.#.#.#.#
#.#...#.#
#.#####.#
#.......#
#########
"""
START, FOOD = (1, 1), (1, 7)


def grid_distances(walls: np.ndarray, source: tuple[int, int]) -> np.ndarray:
    """Independent oracle: shortest path lengths on the grid graph (scipy), -1 unreachable."""
    h, w = walls.shape
    index = np.arange(h * w).reshape(h, w)
    edges = []
    for a, b in ((index[:-1, :], index[1:, :]), (index[:, :-1], index[:, 1:])):
        ok = ~walls.ravel()[a.ravel()] & ~walls.ravel()[b.ravel()]
        edges.append(np.stack([a.ravel()[ok], b.ravel()[ok]], axis=1))
    e = np.concatenate(edges)
    graph = sparse.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(h * w, h * w))
    d = shortest_path(graph, directed=False, unweighted=True, indices=index[source])
    return np.where(np.isfinite(d), d, -1).reshape(h, w).astype(int)


def one_agent(kind: str, text: str, start: tuple[int, int]) -> Simulation:
    layout = Layout.from_text(text.replace("F", "0"))
    h, w = layout.shape
    world = GridWorldConfig(
        height=h, width=w, n_goals=0, resources=(ResourceType("food", regrowth=0.0),)
    )
    sim = Simulation(SimulationConfig(world=world, agents={kind: 1}))
    sim.world.reset(0, layout=layout, positions=np.array([start]))
    return sim


def test_distance_field_matches_an_independent_shortest_path_oracle():
    rng = np.random.default_rng(3)
    walls = rng.random((23, 31)) < 0.3
    walls[5, 7] = False
    sources = np.zeros_like(walls)
    sources[5, 7] = True
    np.testing.assert_array_equal(distance_field(walls, sources), grid_distances(walls, (5, 7)))


def test_greedy_collector_walks_a_shortest_path_round_the_walls():
    text = MAZE.replace("#...#...#\n", "#...#..F#\n", 1)
    sim = one_agent("collector", text, START)
    sim.controller = GreedyController(seed=1)
    oracle = grid_distances(sim.world.walls, FOOD)
    assert oracle[START] == 12
    trail = [oracle[START]]
    while tuple(sim.world.positions[0]) != FOOD and len(trail) < 40:
        sim.step()
        trail.append(oracle[tuple(sim.world.positions[0])])
    assert trail == list(range(12, -1, -1))  # one step nearer every tick: a shortest path
    sim.step()
    assert tuple(sim.world.positions[0]) == FOOD  # stays to eat
    assert sim.activity.latest["collected"] > 0


def test_greedy_explorer_heads_for_the_nearest_unvisited_cell_by_the_maze():
    walls = Layout.from_text(MAZE).walls
    w = walls.shape[1]
    visited = ~walls.reshape(1, -1).copy()  # everything seen ...
    visited[0, FOOD[0] * w + FOOD[1]] = False  # ... except the far corner
    move = nearest_unvisited_moves(
        walls, np.zeros_like(walls), visited, np.array([0]), np.array([START]), np.array([0])
    )[0]
    oracle = grid_distances(walls, FOOD)
    nxt = tuple(np.array(START) + MOVE_DELTAS[move])
    assert oracle[nxt] == oracle[START] - 1  # down the maze, not right into the wall
    visited[:] = True
    all_seen = nearest_unvisited_moves(
        walls, np.zeros_like(walls), visited, np.array([0]), np.array([START]), np.array([0])
    )
    assert all_seen[0] == 4  # nothing left to visit: stay


def test_greedy_explorer_covers_a_room_and_then_rests():
    room = "\n".join(["#######", *["#.....#"] * 5, "#######"])
    sim = one_agent("explorer", room, (1, 1))
    sim.controller = GreedyController(seed=0)
    seen = {(1, 1)}
    ticks = 0
    while len(seen) < 25:
        assert sim.step().activity["moving"] == 1  # never idle while cells are left
        seen.add(tuple(int(v) for v in sim.world.positions[0]))
        ticks += 1
    assert ticks <= 30  # 24 moves at best; nearest-first leaves a few holes to go back for
    assert sim.step().activity["moving"] == 0


def test_random_moves_are_uniform_and_seeded():
    sim = Simulation(SimulationConfig(world=GridWorldConfig(height=20, width=20), seed=1))
    controller = RandomController(seed=7)
    picks = np.concatenate([controller.decide(sim) for _ in range(4000)])
    counts = np.bincount(picks, minlength=5)
    assert counts.size == 5 and chisquare(counts).pvalue > 1e-3
    again = RandomController(seed=7)
    np.testing.assert_array_equal(again.decide(sim), RandomController(seed=7).decide(sim))


def test_a_controller_changes_only_the_moves():
    config = SimulationConfig(seed=4)
    aif, random = Simulation(config), Simulation(config)
    random.controller = RandomController(seed=4)
    np.testing.assert_array_equal(aif.world.walls, random.world.walls)
    np.testing.assert_array_equal(aif.world.positions, random.world.positions)
    for _ in range(20):
        random.step()
    assert random.activity.latest["moving"] > 0

    class Still:
        def decide(self, sim):
            return np.full(sim.world.n_slots, 4)

    aif.controller = Still()
    for _ in range(3):
        assert aif.step().activity["moving"] == 0


def test_greedy_refuses_worlds_too_large_to_remember(monkeypatch):
    from freeagentics.errors import ConfigurationError
    from freeagentics.simulation import baselines

    sim = Simulation(SimulationConfig(world=GridWorldConfig(height=20, width=20)))
    monkeypatch.setattr(baselines, "MAX_VISITED_CELLS", 8 * 400 - 1)  # 8 agents x 400 cells
    sim.controller = GreedyController()
    with pytest.raises(ConfigurationError, match="8 agents x 400 cells is more than 3199"):
        sim.step()


@pytest.mark.slow
def test_greedy_outforages_random_on_the_maze():
    from freeagentics.simulation.scenario import load_scenario

    scenario = load_scenario("examples/scenarios/maze.toml")
    collected = {}
    for name, ctl in (("random", RandomController(0)), ("greedy", GreedyController(0))):
        sim = Simulation(scenario.config)
        sim.controller = ctl
        collected[name] = sum(sim.step().activity["collected"] for _ in range(300))
    assert collected["greedy"] > 2 * collected["random"]
