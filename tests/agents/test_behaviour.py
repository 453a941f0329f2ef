"""Behaviour of the built-in kinds against a random walk on the same world and seed.

The random walk starts from the same cells of the same world and draws each move
uniformly; whatever the kinds do better than that is their models at work.
"""

from __future__ import annotations

import numpy as np
import pytest

from freeagentics.agents.drives import Drives, drive_scores, reach_states
from freeagentics.agents.kinds import define_kind
from freeagentics.simulation import CoalitionSettings, Simulation, SimulationConfig
from freeagentics.worlds import GridWorld, GridWorldConfig, Layout, ResourceType

WALLED = GridWorldConfig(
    height=24,
    width=24,
    wall_density=0.15,
    resources=(ResourceType("food", density=0.06, regrowth=0.05),),
    energy_cost_per_move=0.02,
)


def _sim(agents: dict[str, int], seed: int = 1, world: GridWorldConfig = WALLED, kinds=None):
    config = SimulationConfig(
        world=world,
        agents=agents,
        seed=seed,
        coalitions=CoalitionSettings(auto_objectives=0),
        knowledge_every=1000,
    )
    return Simulation(config, kinds=kinds)


def _random_walk(sim: Simulation, ticks: int, seed: int) -> tuple[np.ndarray, list[set]]:
    """Energy gained and cells visited per agent by uniform random moves from where
    ``sim``'s agents stand now, on a copy of its world."""
    world = GridWorld(
        sim.world.config,
        seed=seed,
        layout=sim.world.layout,
        positions=sim.world.positions[sim.population.slots()],
    )
    rng = np.random.default_rng(seed)
    start = world.energy.copy()
    visited = [{tuple(p)} for p in world.positions]
    gained = np.zeros(world.n_slots)
    for _ in range(ticks):
        result = world.step(rng.integers(0, 5, size=world.n_slots))
        gained += result.collected.sum(axis=1)
        for i, p in enumerate(world.positions):
            visited[i].add(tuple(p))
    assert np.all(world.energy <= start + gained + 1e-4)
    return gained, visited


def _run(sim: Simulation, ticks: int) -> tuple[list[set], np.ndarray]:
    """Cells visited by each agent, and the tick of its last move."""
    positions = sim.world.positions[sim.population.slots()]
    visited = [{tuple(p)} for p in positions]
    last_move = np.zeros(len(visited), np.int64)
    for _ in range(ticks):
        events = sim.step()
        moved = np.any(events.positions != positions, axis=1)
        last_move[moved] = events.tick
        positions = events.positions
        for i, p in enumerate(positions):
            visited[i].add(tuple(p))
    return visited, last_move


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["explorer", "collector", "coordinator"])
def test_no_agent_freezes_for_500_ticks_in_a_walled_world(kind):
    sim = _sim({kind: 30}, seed=2)
    _, last_move = _run(sim, 500)
    alive = sim.world.alive[sim.population.slots()]
    assert alive.all()
    # every agent is alive and still moves in the last hundred ticks
    assert last_move.min() > 400, np.sort(last_move)[:5]


def test_explorer_coverage_beats_a_random_walk():
    sim = _sim({"explorer": 12}, seed=4)
    _, walk_visited = _random_walk(sim, 300, seed=4)
    visited, _ = _run(sim, 300)
    ours = np.mean([len(v) for v in visited])
    walk = np.mean([len(v) for v in walk_visited])
    assert ours > 2.0 * walk, (ours, walk)


#: food that regrows, and energy that only eating changes: intake is what was eaten
FORAGE = GridWorldConfig(
    height=24,
    width=24,
    wall_density=0.1,
    resources=(ResourceType("food", density=0.03, regrowth=0.02),),
    energy_cost_per_move=0.0,
    initial_energy=4.0,
)


def test_collector_intake_beats_a_random_walk():
    sim = _sim({"collector": 12}, seed=5, world=FORAGE)
    start = sim.world.energy[sim.population.slots()].copy()
    walk_gained, _ = _random_walk(sim, 300, seed=5)
    sim.run(300)
    ours = sim.world.energy[sim.population.slots()] - start  # no cost of moving or living
    assert ours.sum() > 2.0 * walk_gained.sum(), (ours.sum(), walk_gained.sum())


def _scores(level: int, contact: np.ndarray, visits: np.ndarray, drives: Drives) -> np.ndarray:
    """q_pi of one agent whose compass is flat, from its drives alone."""
    side = 9
    G = np.zeros((1, 5))
    qs = np.full((1, side * side), 1.0 / side**2)
    G_out, q_pi = np.empty((1, 5)), np.empty((1, 5))
    drive_scores(
        G,
        qs,
        reach_states(side),
        contact[None],
        np.array([[5, 5]]),
        visits[None],
        np.array([level]),
        np.array([False]),
        np.zeros(1),
        np.asarray(drives.hunger, float),
        drives.novelty,
        drives.effort,
        drives.hazard,
        4.0,
        np.zeros(5),
        G_out,
        q_pi,
    )
    return q_pi[0]


def test_hunger_drives_foraging_and_a_fed_agent_explores():
    """Food to the right on a visited row, unvisited cells to the left: a starving agent
    steps onto the food, a full one goes where it has not been."""
    drives = Drives(novelty=1.0)
    contact = np.array([0, 0, 0, 0, 6])  # centre, up, down, left, right (6: food)
    visits = np.full((drives.memory, drives.memory), 8, np.uint8)
    visits[5, 4] = 0  # the cell to the left was never visited
    starving = _scores(0, contact, visits, drives)
    full = _scores(len(drives.hunger) - 1, contact, visits, drives)
    assert np.argmax(starving) == 3 and starving[3] > 0.9
    assert np.argmax(full) == 2 and full[3] < 0.1


def test_a_blocked_move_scores_as_staying_and_is_never_chosen():
    drives = Drives(novelty=1.0)
    contact = np.array([0, 1, 3, 4, 0])  # up: wall, down: an agent, left: edge of the world
    visits = np.zeros((drives.memory, drives.memory), np.uint8)
    visits[5, 5] = 3  # its own cell
    q_pi = _scores(3, contact, visits, drives)
    assert np.argmax(q_pi) == 3  # right, the only open way to a new cell
    assert q_pi[0] == q_pi[1] == q_pi[2] < q_pi[4]  # blocked: a stay that costs effort


def _wall_world(kinds=None) -> Simulation:
    """A 13 x 13 world with a wall across the middle, a food cell behind it and one
    hungry collector in front of it, straight below the food."""
    cfg = GridWorldConfig(
        height=13,
        width=13,
        wall_density=0.0,
        n_goals=0,
        resources=(ResourceType("food", density=0.0, regrowth=0.0),),
        energy_cost_per_move=0.0,
        initial_energy=5.0,
    )
    sim = _sim({"collector": 1}, seed=0, world=cfg, kinds=kinds)
    walls = np.zeros((13, 13), bool)
    walls[6, 2:11] = True
    kind = np.full((13, 13), -1, np.int8)
    kind[2, 6] = 0
    zeros = np.zeros((13, 13), bool)
    sim.world.reset(0, layout=Layout(walls, zeros, zeros, kind), positions=np.array([[10, 6]]))
    return sim


def test_a_wall_between_agent_and_food_is_walked_around():
    sim = _wall_world()
    reached = None
    for _ in range(120):
        events = sim.step()
        if tuple(events.positions[0]) == (2, 6):
            reached = events.tick
            break
    assert reached is not None and reached < 120
    # the compass model alone pushes against the wall for ever
    plain = _wall_world(kinds=[define_kind("collector", target="resource", capabilities=(0, 1, 0))])
    plain.run(120)
    assert plain.world.positions[0, 0] > 6


def test_a_collector_leaves_a_grazed_patch_and_comes_back_when_it_regrows():
    """Two food cells far apart, each regrowing slower than the collector eats: it lives
    by going from one to the other, leaving each once less than a bite is left."""
    cfg = GridWorldConfig(
        height=11,
        width=11,
        wall_density=0.0,
        n_goals=0,
        resources=(ResourceType("food", density=0.0, regrowth=0.02, depletion=0.25),),
        energy_cost_per_move=0.02,
        energy_cost_per_tick=0.02,
        initial_energy=3.0,
    )
    sim = _sim({"collector": 1}, seed=0, world=cfg)
    kind = np.full((11, 11), -1, np.int8)
    kind[2, 2] = kind[8, 8] = 0
    zeros = np.zeros((11, 11), bool)
    sim.world.reset(0, layout=Layout(zeros, zeros, zeros, kind), positions=np.array([[1, 1]]))
    patches = {(2, 2): 1, (8, 8): 2}
    visits = []
    for _ in range(1000):
        cell = tuple(sim.step().positions[0])
        if cell in patches and (not visits or visits[-1] != patches[cell]):
            visits.append(patches[cell])
    assert sim.world.alive[0]
    assert len(visits) >= 6, visits  # patch after patch, each left and found again
