"""Drives: their settings, and invariants of the scores they add to G."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freeagentics.agents.drives import Drives, drive_scores, reach_states
from freeagentics.agents.kinds import builtin_kinds, define_kind
from freeagentics.agents.population import Population
from freeagentics.errors import ConfigurationError
from freeagentics.models.builders import locator_model
from freeagentics.state import CheckpointError, State

BLOCKING = (1, 3, 4)  # obstacle, agent, out of bounds


@pytest.mark.parametrize(
    "settings_",
    [
        {"novelty": -1.0},
        {"effort": float("nan")},
        {"hunger": (1.0, 0.0)},  # three cuts make four levels: four values needed
        {"levels": (0.6, 0.3, 1.0)},
        {"hungry": 4},
        {"memory": 0},
        {"forget_every": 0},
    ],
)
def test_bad_drive_settings_are_refused(settings_):
    with pytest.raises(ConfigurationError, match=r"drives|drive weights"):
        Drives(**settings_)


def test_drives_need_a_displacement_model():
    with pytest.raises(ConfigurationError, match="drives need a displacement"):
        define_kind("mover", locator_model(4), observer="cell", drives=Drives())


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 20),
    level=st.integers(0, 3),
    gamma=st.floats(0.5, 16.0),
)
def test_scores_are_a_distribution_and_blocked_moves_never_beat_staying(seed, n, level, gamma):
    rng = np.random.default_rng(seed)
    drives = Drives()
    side = 9
    G = rng.normal(size=(n, 5))
    qs = rng.dirichlet(np.ones(side * side), size=n)
    contact = rng.integers(0, 8, size=(n, 5)).astype(np.int32)
    positions = rng.integers(0, 50, size=(n, 2))
    visits = rng.integers(0, 255, size=(n, drives.memory, drives.memory)).astype(np.uint8)
    before = visits.copy()
    G_out, q_pi = np.empty((n, 5)), np.empty((n, 5))
    drive_scores(
        G,
        qs,
        reach_states(side),
        contact,
        positions,
        visits,
        np.full(n, level),
        rng.random(n) < 0.5,
        rng.random(n),
        np.asarray(drives.hunger, float),
        drives.novelty,
        drives.effort,
        drives.hazard,
        gamma,
        np.zeros(5),
        G_out,
        q_pi,
    )
    assert np.all(np.isfinite(G_out)) and np.all(q_pi >= 0)
    np.testing.assert_allclose(q_pi.sum(axis=1), 1.0, rtol=1e-9)
    blocked = np.isin(contact[:, 1:], BLOCKING)
    stay = G_out[:, 4:5]
    assert np.all(G_out[:, :4][blocked] < np.broadcast_to(stay, (n, 4))[blocked])
    # each agent counted one visit of its own cell (saturating)
    rows, cols = positions[:, 0] % drives.memory, positions[:, 1] % drives.memory
    expected = np.minimum(before[np.arange(n), rows, cols].astype(int) + 1, 255)
    assert np.array_equal(visits[np.arange(n), rows, cols], expected)


@pytest.mark.parametrize(
    ("array", "value", "message"),
    [
        ("visits", np.zeros((3, 4, 4), np.uint8), "visit memory has shape"),
        ("visits", np.zeros((2, 8, 8), np.uint8), "disagree in length"),
        ("visits", np.zeros((3, 8, 8), np.int64), "expected uint8"),
    ],
)
def test_a_checkpointed_visit_memory_that_does_not_fit_is_refused(array, value, message):
    kinds = [builtin_kinds()["explorer"]]
    population = Population(kinds, np.random.default_rng(0))
    population.add("explorer", np.arange(3))
    state = population.export_state()
    assert state.part("group.0").array("visits").shape == (3, 8, 8)
    key = next(k for k in state.arrays if k.startswith("group.0") and k.endswith(array))
    tampered = State(dict(state.arrays), dict(state.values))
    tampered.arrays[key] = value
    fresh = Population(kinds, np.random.default_rng(0))
    with pytest.raises(CheckpointError, match=message):
        fresh.import_state(tampered)
