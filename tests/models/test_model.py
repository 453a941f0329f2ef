"""GenerativeModel construction: defaults, shapes, and errors that name what is wrong."""

from __future__ import annotations

import numpy as np
import pytest

from freeagentics.errors import ModelError
from freeagentics.models import GenerativeModel, enumerate_policies


def _simple(**overrides):
    A = np.array([[0.9, 0.2], [0.1, 0.8]])
    B = np.stack([np.eye(2), np.eye(2)[::-1]], axis=-1)
    args = dict(A=A, B=B)
    args.update(overrides)
    return GenerativeModel.create(**args)


def test_defaults_are_uniform_prior_no_preferences_and_all_policies():
    m = _simple(policy_len=2)
    np.testing.assert_array_equal(m.C[0], [0.0, 0.0])
    np.testing.assert_array_equal(m.D[0], [0.5, 0.5])
    assert m.policies.shape == (4, 2, 1)
    np.testing.assert_allclose(m.E, np.full(4, 0.25))
    assert (m.num_states, m.num_obs, m.num_controls) == ((2,), (2,), (2,))


def test_policy_order_matches_pymdp():
    control = pytest.importorskip("pymdp.control")
    ours = enumerate_policies([3, 1, 2], 2, [0, 2])
    theirs = np.stack(control.construct_policies([3, 2, 2], [3, 1, 2], 2, [0, 2]))
    np.testing.assert_array_equal(ours, theirs)


def test_arrays_are_read_only_so_cohorts_can_share_them():
    m = _simple()
    with pytest.raises(ValueError):
        m.A[0][0, 0] = 1.0


def test_two_axis_B_is_an_uncontrolled_factor():
    m = GenerativeModel.create(np.eye(2), [np.eye(2)])
    assert m.num_controls == (1,)
    assert m.control_factors == ()
    assert m.policies.shape == (1, 1, 1)


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        (dict(A=np.array([[0.9, 0.2], [0.2, 0.8]])), "A[0][:, 0] sums to 1.1"),
        (dict(A=np.array([[1.2, 0.2], [-0.2, 0.8]])), "A[0] holds -0.2 at index (1, 0)"),
        (dict(A=np.array([[np.nan, 0.2], [0.1, 0.8]])), "A[0] holds nan at index (0, 0)"),
        (dict(A=np.ones((2, 3)) / 2), "A[0] has shape (2, 3), expected (2, 2)"),
        (dict(B=np.ones((2, 2, 2))), "B[0][:, 0, 0] sums to 2"),
        (dict(B=np.ones((2, 3, 2)) / 2), "B[0] has shape (2, 3, 2), expected (2, 2, 2)"),
        (dict(C=[np.zeros(3)]), "C[0] has shape (3,), expected (2,)"),
        (dict(C=[np.array([0.0, np.inf])]), "C[0] holds inf at index (1,)"),
        (dict(D=[np.array([0.7, 0.7])]), "D[0] sums to 1.4"),
        (dict(D=[np.ones(2) / 2, np.ones(2) / 2]), "D has 2 entries, expected 1"),
        (dict(E=np.array([0.5])), "E has shape (1,), expected (2,)"),
        (dict(policies=np.array([[[0]], [[2]]])), "policies[1] step 0 gives factor 0 control 2"),
        (dict(policies=np.zeros((2, 1, 2), int)), "expected (P, T, F) with F = 1"),
        (dict(A_deps=[[1]]), "A_deps[0] names factor 1"),
        (dict(A_deps=[[0, 0]]), "names a factor twice"),
        (dict(control_factors=[3]), "control_factors names factor 3"),
        (dict(A=[]), "A must hold at least one modality"),
    ],
)
def test_malformed_models_are_rejected_with_a_message_naming_the_problem(overrides, fragment):
    with pytest.raises(ModelError) as info:
        _simple(**overrides)
    assert fragment in str(info.value)


def test_error_carries_array_name_and_index():
    with pytest.raises(ModelError) as info:
        _simple(A=np.array([[1.2, 0.2], [-0.2, 0.8]]))
    assert info.value.array == "A[0]"
    assert info.value.index == (1, 0)


def test_uncontrolled_factor_in_a_policy_must_take_control_zero():
    B = [np.stack([np.eye(2)] * 2, -1), np.stack([np.eye(2)] * 2, -1)]
    with pytest.raises(ModelError, match="expected 0 \\(factor is not controllable\\)"):
        GenerativeModel.create(
            np.ones((2, 2, 2)) / 2, B, control_factors=[0], policies=np.array([[[1, 1]]])
        )


def test_dependencies_shape_the_arrays():
    A = np.full((3, 4), 1 / 3)  # depends on factor 1 only (4 states)
    B = [np.stack([np.eye(2)] * 2, -1), np.full((4, 4, 2, 1), 0.25)]  # factor 1 on (1, 0)
    m = GenerativeModel.create(A, B, A_deps=[[1]], B_deps=[[0], [1, 0]])
    assert m.A_deps == ((1,),) and m.B_deps == ((0,), (1, 0))
    assert not m.has_full_A_deps and not m.has_simple_B_deps


def test_replace_revalidates():
    m = _simple()
    m2 = m.replace(C=[np.array([1.0, 0.0])])
    assert m2.C[0][0] == 1.0 and m.C[0][0] == 0.0
    with pytest.raises(ModelError):
        m.replace(D=[np.array([2.0, 0.0])])
