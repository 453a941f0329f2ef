"""Serial or parallel kernels: the faster one, as measured, is kept."""

from __future__ import annotations

import time

from freeagentics.inference._kernels import PARALLEL_THRESHOLD, KernelSet, _Choice


def _slow(*_):
    time.sleep(0.002)
    return "slow"


def _fast(*_):
    return "fast"


def test_the_faster_variant_wins_and_is_checked_again_later():
    choice = _Choice(_slow, _fast)
    results = [choice() for _ in range(2 * _Choice.TRIALS)]
    assert results.count("slow") == results.count("fast") == _Choice.TRIALS
    assert choice.winner == 1
    assert all(choice() == "fast" for _ in range(50))
    choice.variants = (_fast, _slow)  # the machine changed: the next contest notices
    for _ in range(_Choice.RECHECK + 2 * _Choice.TRIALS):
        choice()
    assert choice.winner == 0


def test_small_populations_always_get_the_serial_kernel():
    kernels = KernelSet()
    serial = kernels("row_entropy", PARALLEL_THRESHOLD - 1)
    assert serial is kernels("row_entropy", 10)
    assert isinstance(kernels("row_entropy", PARALLEL_THRESHOLD), _Choice)
    assert kernels("row_entropy", PARALLEL_THRESHOLD) is kernels("row_entropy", 10**6)


def test_both_policy_strategies_give_the_same_scores():
    """Numba's own dot products and BLAS's feed the same scoring: same G and q_pi."""
    import numpy as np

    from freeagentics.agents import Cohort, CohortConfig
    from freeagentics.inference._kernels import for_size
    from freeagentics.models.builders import explorer_model

    model = explorer_model(6, policy_len=2)
    cohort = Cohort(model, 700, CohortConfig(dtype="float64"))
    rng = np.random.default_rng(0)
    qs = rng.dirichlet(np.ones(36), 700)
    scores = cohort.flat_scores()
    gamma = np.full(700, 4.0)
    plan = cohort.engine._plan
    outputs = []
    for strategy in (plan._fused, plan._through_blas):
        per_prefix = np.empty((700, plan.num_prefixes))
        G, q_pi = np.empty((700, 25)), np.empty((700, 25))
        strategy(for_size, {}, qs, scores, True, True, gamma, cohort.log_E, per_prefix, G, q_pi)
        outputs.append((G, q_pi))
    np.testing.assert_allclose(outputs[0][0], outputs[1][0], atol=1e-12)
    np.testing.assert_allclose(outputs[0][1], outputs[1][1], atol=1e-12)
    np.testing.assert_allclose(outputs[0][1].sum(1), 1.0)


def test_blas_runs_on_one_thread_while_numba_scores_and_is_restored_after():
    import pytest

    from freeagentics.inference._blas_threads import blas_threads, single_threaded_blas

    before = blas_threads()
    if before is None:
        pytest.skip("numpy's BLAS is not an OpenBLAS whose threads can be set")
    with single_threaded_blas():
        assert blas_threads() == 1
    assert blas_threads() == before
    with pytest.raises(RuntimeError), single_threaded_blas():
        raise RuntimeError("a failing block still restores the thread count")
    assert blas_threads() == before
