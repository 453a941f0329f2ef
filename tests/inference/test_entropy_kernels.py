"""The fused entropy kernels agree with the plain maths."""

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
