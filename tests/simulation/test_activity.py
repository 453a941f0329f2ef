"""Activity per tick: moving, alive and stuck agents, and the warnings they raise."""

from __future__ import annotations

import numpy as np
import pytest

from freeagentics.errors import ConfigurationError
from freeagentics.simulation import ActivityTracker, Simulation, SimulationConfig
from freeagentics.simulation.runner import run_scenario
from freeagentics.simulation.scenario import scenario_from_mapping
from freeagentics.worlds import GridWorldConfig


def boxed(n: int = 3, stuck_ticks: int = 5, **world) -> SimulationConfig:
    """``n`` agents filling a 1 x n corridor: no agent can ever change cell."""
    return SimulationConfig(
        world=GridWorldConfig(height=1, width=n, wall_density=0.0, n_goals=0, **world),
        agents={"explorer": n},
        stuck_ticks=stuck_ticks,
    )


def codes(activity) -> list[str]:
    return [w["code"] for w in activity["warnings"]]


def test_agents_that_cannot_move_are_frozen_then_stuck_after_k_ticks():
    sim = Simulation(boxed(3, stuck_ticks=5))
    for tick in range(1, 8):
        a = sim.step().activity
        assert a["moving"] == 0 and a["moving_fraction"] == 0.0
        assert a["agents"] == a["alive"] == 3 and a["dead"] == 0
        assert a["stuck"] == (3 if tick >= 5 else 0), tick
        assert codes(a) == (["frozen", "stuck"] if tick >= 5 else []), tick
    assert a["stuck_ticks"] == 5 and a["stuck_fraction"] == 1.0
    np.testing.assert_array_equal(sim.activity.still, [7, 7, 7])


def test_deaths_show_in_the_alive_fraction_and_warn():
    config = boxed(3, stuck_ticks=50, initial_energy=1.0, energy_cost_per_tick=0.4)
    sim = Simulation(config)
    alive = [sim.step().activity["alive_fraction"] for _ in range(3)]
    assert alive == [1.0, 1.0, 0.0]  # 1.0 -> 0.6 -> 0.2 -> 0
    a = sim.step().activity
    assert a["dead"] == 3 and a["alive"] == 0 and a["stuck"] == 0  # the dead are not "stuck"
    assert codes(a) == ["dying"]
    assert "3 of 3 agents are exhausted" in a["warnings"][0]["message"]


def test_tracker_counts_moves_on_hand_built_ticks():
    t = ActivityTracker(window=2)
    active = np.array([True, True, True, False])
    energy = np.array([1, 1, 0, 0], np.float32)
    a = t.update(np.array([True, False, False, False]), active, energy, collected=0.5)
    assert (a["agents"], a["alive"], a["dead"], a["moving"], a["stuck"]) == (3, 2, 1, 1, 0)
    assert a["moving_fraction"] == pytest.approx(1 / 3) and a["collected"] == 0.5
    a = t.update(np.array([False, False, False, False]), active, energy, collected=0.0)
    # agent 1 still for 2 ticks: stuck; agent 2 is dead, agent 0 moved a tick ago
    assert a["stuck"] == 1 and a["moving_fraction_avg"] == pytest.approx(1 / 6)
    np.testing.assert_array_equal(t.still, [1, 2, 2, 0])
    t.forget(np.array([1]))  # a new agent took slot 1
    # the world grew a slot: its count starts at 0
    a = t.update(np.zeros(5, bool), np.append(active, True), np.ones(5, np.float32), 0.0)
    np.testing.assert_array_equal(t.still, [2, 1, 3, 0, 1])
    assert a["agents"] == 4 and a["moving_fraction_avg"] == 0.0  # window of 2 ticks
    assert a["stuck"] == 2 and codes(a) == ["frozen", "stuck"]  # half stuck: warned


def test_window_is_bounded_before_anything_is_allocated():
    with pytest.raises(ConfigurationError, match="stuck_ticks"):
        SimulationConfig(stuck_ticks=0)
    with pytest.raises(ConfigurationError, match="stuck_ticks must be at most 1000000"):
        SimulationConfig(stuck_ticks=10**9)
    with pytest.raises(ConfigurationError, match="stuck_ticks"):
        ActivityTracker(window=0)


def test_added_agents_start_unstuck_and_checkpoints_keep_the_counts(tmp_path):
    sim = Simulation(boxed(3, stuck_ticks=3))
    for _ in range(4):
        sim.step()
    sim.remove_agents([1])
    (new,) = sim.add_agents("explorer", 1)  # takes the freed slot and cell
    slot = sim.population.slots()[np.searchsorted(sim.population.ids, new)]
    assert slot == 1 and sim.activity.still[slot] == 0
    np.testing.assert_array_equal(sim.activity.still, [4, 0, 4])
    restored = Simulation.restore(sim.checkpoint(tmp_path / "s.ckpt"))
    np.testing.assert_array_equal(restored.activity.still, sim.activity.still)
    for _ in range(3):
        a, b = sim.step().activity, restored.step().activity
        assert a == b


def test_run_table_has_the_activity_columns(tmp_path):
    scenario = scenario_from_mapping(
        {
            "scenario": {"ticks": 4},
            "world": {"height": 1, "width": 2, "wall_density": 0.0, "n_goals": 0},
            "agents": {"explorer": 2},
            "simulation": {"stuck_ticks": 2},
        }
    )
    result = run_scenario(scenario, tmp_path / "run.csv", progress=False)
    assert result.final["moving_fraction"] == 0.0 and result.final["stuck"] == 2
    assert result.final["alive_fraction"] == 1.0 and result.final["warnings"] == "frozen stuck"
    header = (tmp_path / "run.csv").read_text().splitlines()[0].split(",")
    for name in ("moving_fraction", "moving_fraction_avg", "alive_fraction", "stuck", "warnings"):
        assert name in header


def test_maze_layout_is_connected_and_walled():
    from scipy import ndimage

    from freeagentics.worlds import GridWorld

    config = GridWorldConfig(height=20, width=26, layout="maze", corridor_width=2, n_agents=4)
    walls = [GridWorld(config, seed=s).walls for s in (0, 1)]
    for w in walls:
        _, parts = ndimage.label(~w)
        assert parts == 1  # every open cell reachable from every other
        assert 0.3 < w.mean() < 0.6 and w[0].all() and w[:, 0].all()
    assert not np.array_equal(walls[0], walls[1])
    with pytest.raises(ConfigurationError, match="layout must be one of"):
        GridWorldConfig(layout="labyrinth")
    with pytest.raises(
        ConfigurationError, match=r"world.layout: expected one of \['random', 'maze'\]"
    ):
        scenario_from_mapping({"world": {"layout": "labyrinth"}})
    maze = scenario_from_mapping({"world": {"layout": "maze", "corridor_width": 3}})
    assert maze.config.world.layout == "maze" and maze.config.world.corridor_width == 3
    with pytest.raises(ConfigurationError, match="needs at least"):
        GridWorldConfig(height=3, width=30, layout="maze", corridor_width=2)
