"""Resource depletion and regrowth, hazards, goals and energy accounting."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freeagentics.worlds import GridWorld, GridWorldConfig, Layout, Move, ResourceType

U, D, L, R, S = Move.UP, Move.DOWN, Move.LEFT, Move.RIGHT, Move.STAY
F32 = np.float32


def make_world(rows, positions, **config):
    layout = Layout.from_text(rows)
    h, w = layout.shape
    cfg = GridWorldConfig(height=h, width=w, n_agents=len(positions), **config)
    return GridWorld(cfg, seed=0, layout=layout, positions=np.array(positions).reshape(-1, 2))


FOOD = ResourceType("food", max_amount=1.0, regrowth=0.1, depletion=0.4)
WATER = ResourceType("water", max_amount=2.0, regrowth=0.0, depletion=5.0)


def test_resource_cells_start_full_and_nowhere_else():
    world = make_world(["0.1", "..."], [(1, 1)], resources=(FOOD, WATER))
    expected = np.zeros((2, 2, 3), dtype=np.float32)
    expected[0, 0, 0] = 1.0
    expected[1, 0, 2] = 2.0
    assert np.array_equal(world.resources, expected)


def test_collection_depletes_then_regrows_to_max():
    world = make_world([".0"], [(0, 0)], resources=(FOOD,), energy_per_unit=2.0)
    result = world.step(np.array([R]))
    assert result.collected[0, 0] == F32(0.4)
    # Collection happens before regrowth within a tick.
    assert world.resources[0, 0, 1] == F32(1.0) - F32(0.4) + F32(0.1)
    world.step(np.array([S]))
    world.step(np.array([S]))
    # 0.7 -> 0.4 -> ~0 after two more visits, then regrowth.
    assert world.resources[0, 0, 1] == pytest.approx(0.1, abs=1e-6)
    world.step(np.array([L]))
    amounts = [float(world.step(np.array([S])).collected[0, 0]) for _ in range(12)]
    assert amounts == [0.0] * 12  # nothing to collect off the resource cell
    assert world.resources[0, 0, 1] == F32(1.0), "regrowth stops at max_amount"


def test_one_visit_takes_everything_when_depletion_exceeds_amount():
    world = make_world(["1."], [(0, 1)], resources=(FOOD, WATER), energy_cost_per_move=0.0)
    result = world.step(np.array([L]))
    assert result.collected[0].tolist() == [0.0, 2.0]
    assert world.resources[1, 0, 0] == 0.0  # no regrowth for water
    assert world.observe()[0, 0] == 0, "an exhausted resource cell reads EMPTY"


def test_energy_accounting_per_tick():
    world = make_world(
        [".0H", "..G"],
        [(0, 0)],
        resources=(FOOD,),
        initial_energy=10.0,
        energy_cost_per_move=0.5,
        energy_cost_per_tick=0.25,
        energy_per_unit=3.0,
        hazard_penalty=2.0,
        goal_reward=7.0,
    )
    e = F32(10.0)
    r = world.step(np.array([R]))  # onto food: move, tick, collect 0.4 * 3
    gain = F32(0.4) * F32(3.0) - F32(0.25) - F32(0.5)
    assert r.energy_delta[0] == pytest.approx(gain, abs=1e-6)
    assert r.reward[0] == r.energy_delta[0] and not r.on_goal[0] and not r.on_hazard[0]
    e = e + r.energy_delta[0]
    r = world.step(np.array([R]))  # onto hazard
    assert r.on_hazard[0] and r.collected.sum() == 0
    assert r.energy_delta[0] == pytest.approx(-0.25 - 0.5 - 2.0, abs=1e-6)
    e = e + r.energy_delta[0]
    r = world.step(np.array([D]))  # onto goal
    assert r.on_goal[0] and r.reward[0] == pytest.approx(-0.75 + 7.0, abs=1e-6)
    e = e + r.energy_delta[0]
    r = world.step(np.array([R]))  # edge: no move, only the tick cost
    assert not r.moved[0] and r.energy_delta[0] == pytest.approx(-0.25, abs=1e-6)
    e = e + r.energy_delta[0]
    assert world.energy[0] == pytest.approx(e, abs=1e-5)
    assert np.array_equal(r.energy, world.energy)


def test_energy_clips_at_zero_and_exhausted_agents_stop_collecting():
    world = make_world(
        ["H0"], [(0, 0), (0, 1)], resources=(FOOD,), initial_energy=1.0, hazard_penalty=5.0
    )
    r = world.step(np.array([S, S]))
    assert r.exhausted.tolist() == [True, False]
    assert world.energy[0] == 0 and r.energy_delta[0] == -1.0
    world.remove_agents([1])
    world.add_agents(positions=np.array([[0, 1]]), energy=0.0)
    before = world.resources.copy()
    r = world.step(np.array([S, S]))
    assert r.collected.sum() == 0 and not r.exhausted.any() and not r.on_hazard.any()
    assert np.array_equal(r.energy_delta, [0.0, 0.0])
    assert world.resources[0, 0, 1] == min(F32(1.0), before[0, 0, 1] + F32(0.1))


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    max_amount=st.floats(0.01, 5.0),
    regrowth=st.floats(0.0, 2.0),
    depletion=st.floats(0.01, 3.0),
)
def test_resources_stay_within_bounds_over_many_ticks(seed, max_amount, regrowth, depletion):
    kinds = (
        ResourceType("a", 0.3, max_amount, regrowth, depletion),
        ResourceType("b", 0.2, 2 * max_amount, regrowth / 2, depletion),
    )
    cfg = GridWorldConfig(
        height=9, width=9, n_agents=30, wall_density=0.1, resources=kinds, initial_energy=1e6
    )
    world = GridWorld(cfg, seed=seed)
    caps = np.array([k.max_amount for k in kinds], dtype=np.float32)[:, None, None]
    grows = world.layout.resource_kind[None] == np.arange(2)[:, None, None]
    rng = np.random.default_rng(seed)
    total_collected = np.zeros(2)
    for _ in range(60):
        before = world.resources.copy()
        r = world.step(rng.integers(0, 5, world.n_slots))
        total_collected += r.collected.sum(axis=0)
        res = world.resources
        assert (res >= 0).all() and (res <= caps).all()
        assert (res[~grows] == 0).all()
        assert (r.collected <= np.array([k.depletion for k in kinds], dtype=np.float32)).all()
        # Every cell either regrew by at most `regrowth` or was collected from.
        assert (
            res
            <= np.minimum(
                before + np.array([regrowth, regrowth / 2])[:, None, None].astype(np.float32), caps
            )
            + 1e-6
        ).all()
    assert total_collected.sum() > 0
