from __future__ import annotations

import numpy as np
import pytest

from freeagentics.coalitions import apply_objective_preferences
from freeagentics.errors import ConfigurationError


def _case():
    c_base = np.array([0.0, -1.0, -2.0])
    membership = np.array([0, -1, 1, 2, 0])
    objective_of_coalition = np.array([1, 0, -1])
    bias = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 4.0]])
    return c_base, membership, objective_of_coalition, bias


def test_members_get_their_objective_bias_others_unchanged():
    c_base, membership, objective_of_coalition, bias = _case()
    out = apply_objective_preferences(c_base, membership, objective_of_coalition, bias, 0.5)
    expected = np.array(
        [
            [0.0, -1.0, 0.0],  # coalition 0 -> objective 1
            [0.0, -1.0, -2.0],  # no coalition
            [0.5, -1.0, -2.0],  # coalition 1 -> objective 0
            [0.0, -1.0, -2.0],  # coalition 2 has no objective
            [0.0, -1.0, 0.0],
        ]
    )
    np.testing.assert_array_equal(out, expected)
    assert out.shape == (5, 3) and out.dtype == np.float64


def test_per_agent_base_rows_are_kept_and_inputs_not_modified():
    _, membership, objective_of_coalition, bias = _case()
    c_base = np.arange(15, dtype=np.float64).reshape(5, 3)
    before = c_base.copy()
    out = apply_objective_preferences(c_base, membership, objective_of_coalition, bias, 2.0)
    np.testing.assert_array_equal(c_base, before)
    np.testing.assert_array_equal(out[[1, 3]], c_base[[1, 3]])
    np.testing.assert_array_equal(out[0], c_base[0] + [0.0, 0.0, 8.0])
    np.testing.assert_array_equal(out[2], c_base[2] + [2.0, 0.0, 0.0])
    assert out is not c_base


def test_zero_strength_is_identity():
    c_base, membership, objective_of_coalition, bias = _case()
    out = apply_objective_preferences(c_base, membership, objective_of_coalition, bias, 0.0)
    np.testing.assert_array_equal(out, np.tile(c_base, (5, 1)))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"C_base": np.zeros(4)}, "C_base"),
        ({"membership": np.array([0, 3])}, "membership"),
        ({"membership": np.array([0.0, 1.0])}, "membership"),
        ({"objective_of_coalition": np.array([0, 2, -1])}, "objective_of_coalition"),
        ({"objective_bias": np.zeros(3)}, "objective_bias"),
        ({"strength": float("nan")}, "strength"),
    ],
)
def test_bad_inputs_name_the_parameter(kwargs, name):
    c_base, membership, objective_of_coalition, bias = _case()
    args = {
        "C_base": c_base,
        "membership": membership[:2],
        "objective_of_coalition": objective_of_coalition,
        "objective_bias": bias,
        "strength": 1.0,
    }
    args.update(kwargs)
    with pytest.raises(ConfigurationError, match=name):
        apply_objective_preferences(**args)
