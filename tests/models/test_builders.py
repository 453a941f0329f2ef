"""The reference grid models of the benchmarks."""

from __future__ import annotations

import numpy as np
import pytest

from freeagentics.models.builders import (
    EXPLORER_PREFERENCES,
    explorer_cell_types,
    explorer_model,
    grid_transitions,
    locator_model,
)


def test_grid_moves_and_walls():
    B = grid_transitions(3)  # up, down, left, right, stay
    centre, top_left = 4, 0
    assert B[1, centre, 0] == 1 and B[7, centre, 1] == 1
    assert B[3, centre, 2] == 1 and B[5, centre, 3] == 1 and B[4, centre, 4] == 1
    assert B[top_left, top_left, 0] == 1 and B[top_left, top_left, 2] == 1  # walls hold


def test_explorer_map_and_likelihood():
    types = explorer_cell_types(10)
    assert np.bincount(types, minlength=5).tolist() == [84, 10, 1, 5, 0]
    m = explorer_model(10)
    assert m.A[0].shape == (5, 100)
    np.testing.assert_allclose(m.A[0][types, np.arange(100)], 0.8)
    np.testing.assert_allclose(m.A[0].sum(0), 1.0)
    np.testing.assert_array_equal(m.C[0], EXPLORER_PREFERENCES)
    assert explorer_model(10, policy_len=3).num_policies == 125


def test_locator_observes_its_cell():
    m = locator_model(4, accuracy=0.9)
    np.testing.assert_allclose(np.diag(m.A[0]), 0.9)
    assert m.A[0][1, 0] == pytest.approx(0.1 / 15)
    assert m.C[0][15] == 3.0 and m.C[0][:15].sum() == 0
