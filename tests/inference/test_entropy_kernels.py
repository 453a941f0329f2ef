"""The fused entropy kernels and the vectorised logarithm and exponential agree with
the plain maths."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from freeagentics.inference import entropy
from freeagentics.inference._kernels import KERNELS


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), width=st.integers(1, 130), sharpness=st.floats(0.05, 5.0))
def test_row_entropies_match_the_reference(seed, width, sharpness):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(width, sharpness), 64)
    p[0] = 0.0
    p[0, 0] = 1.0  # a certain row: entropy 0, with exact zeros beside it
    reference = entropy(p)
    exact = np.empty(64)
    KERNELS["row_entropy"][0](p, exact)
    np.testing.assert_allclose(exact, reference, atol=1e-12)
    approx = np.empty(64, np.float32)
    KERNELS["row_entropy_approx"][0](p.astype(np.float32), approx)
    np.testing.assert_allclose(approx, reference, atol=5e-5)


def test_vectorised_float32_logarithm_is_within_two_units_in_the_last_place():
    """``p ln(p + ε)`` of the learning kernels, float32: from 0 and 1e-30 up to 1e4."""
    import numba

    from freeagentics.inference._fastmath import plogp_into

    @numba.njit
    def run(p, out):
        plogp_into(p, out)

    rng = np.random.default_rng(0)
    p = np.concatenate(
        [[0.0, 1e-30, 1e-16, 0.5, 1.0, 2.0], np.exp(rng.uniform(-40, 9, 20_000))]
    ).astype(np.float32)
    out = np.empty_like(p)
    run(p, out)
    reference = p.astype(np.float64) * np.log(p.astype(np.float64) + 1e-16)
    ulp = np.spacing(np.abs(reference).astype(np.float32)).astype(np.float64)
    assert out[0] == 0.0 and out[4] == 0.0
    assert np.max(np.abs(out - reference)[1:] / ulp[1:]) <= 2.0
    out64 = np.empty(p.size)
    run(p.astype(np.float64), out64)
    np.testing.assert_allclose(out64, reference, rtol=1e-15, atol=0)


def test_vectorised_float32_exponential_is_within_two_units_in_the_last_place():
    """Softmax numerators ``exp(x - shift)`` for ``x <= shift``, down to the clamp."""
    import numba

    from freeagentics.inference._fastmath import exp_shifted_into

    @numba.njit
    def run(x, shift):
        exp_shifted_into(x, shift)

    rng = np.random.default_rng(1)
    x = np.concatenate([[3.0, 3.0 - 1e-6, 2.5], rng.uniform(-84.0, 3.0, 20_000)])
    ours = x.astype(np.float32)
    run(ours, 3.0)
    # the float32 difference x - shift is rounded first (as numpy's float32 softmax
    # rounds it): compare with the exact exponential of that difference
    shifted = x.astype(np.float32) - np.float32(3.0)
    reference = np.exp(shifted.astype(np.float64))
    ulp = np.spacing(reference.astype(np.float32)).astype(np.float64)
    assert ours[0] == 1.0
    assert np.max(np.abs(ours - reference) / ulp) <= 2.0
    tiny = np.array([-1000.0, 0.0], np.float32)
    run(tiny, 0.0)
    assert 0 < tiny[0] < 2e-38 and tiny[1] == 1.0
    ours64 = x.copy()
    run(ours64, 3.0)
    np.testing.assert_allclose(ours64, np.exp(x - 3.0), rtol=1e-15)


def test_an_element_s_entropy_term_does_not_depend_on_its_position():
    """``p ln(p + ε)`` of an element is the same in the vectorised body of the loop and
    in its scalar remainder, whatever the array's length and offset."""
    import numba

    from freeagentics.inference._fastmath import plogp_into

    @numba.njit
    def plogp(x, out):
        plogp_into(x, out)

    rng = np.random.default_rng(1)
    for dtype in (np.float32, np.float64):
        x = np.concatenate([[0.0, 1e-30, 0.5, 1.0], np.exp(rng.uniform(-40, 12, 3_000))])
        whole = np.empty(x.size, dtype)
        plogp(x.astype(dtype), whole)
        for offset in range(1, 17):
            part = np.empty(x.size - offset, dtype)
            plogp(np.ascontiguousarray(x[offset:], dtype=dtype), part)
            np.testing.assert_array_equal(part, whole[offset:])
