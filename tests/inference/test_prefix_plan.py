"""Prefix plans: prefixes whose predictions are equal share them, with the same scores."""

from __future__ import annotations

import numpy as np
import pytest

from freeagentics.inference._kernels import KERNELS
from freeagentics.inference._prefix_plan import PrefixPlan, PrefixTree
from freeagentics.models.builders import explorer_model


@pytest.mark.parametrize("policy_len", [1, 2, 3])
def test_shared_predictions_score_as_one_block_per_prefix(policy_len):
    model = explorer_model(6, policy_len=policy_len)
    plan = PrefixPlan(model.A, model.B[0], model.policies, np.float64)
    tree = PrefixTree(model.policies)
    # moves commute, and a wall stops one: 30 prefixes, 17 blocks; 155, 43
    assert plan.num_prefixes == {1: 5, 2: 17, 3: 43}[policy_len] <= tree.size
    # the same plan with one block per prefix: every prefix's block copied out
    block_of = np.empty(tree.size, np.int64)
    block_of[tree.steps.ravel()] = plan.steps.T.ravel()
    blocks = plan.matrix.reshape(plan.width, plan.num_prefixes, -1)[:, block_of]
    unshared = np.ascontiguousarray(blocks.reshape(-1, blocks.shape[-1]))
    rng = np.random.default_rng(policy_len)
    n, num_policies = 50, model.num_policies
    qs = rng.dirichlet(np.full(36, 0.3), n)
    gamma, log_E = np.full(n, 8.0), np.log(np.full(num_policies, 1 / num_policies))
    scores = rng.normal(size=(1, plan.obs_offsets[-1]))
    outputs = []
    for matrix, steps, k in (
        (plan.matrix, plan.steps, plan.num_prefixes),
        (unshared, np.ascontiguousarray(tree.steps.T), tree.size),
    ):
        scoring = (plan.width, plan.obs_offsets, scores, 0, True, True, steps, gamma, log_E)
        G, q_pi = np.empty((n, num_policies)), np.empty((n, num_policies))
        KERNELS["policy_scores"][0](qs, matrix, scoring, np.empty((n, k)), G, q_pi)
        outputs.append((G, q_pi))
    np.testing.assert_array_equal(outputs[0][0], outputs[1][0])
    np.testing.assert_array_equal(outputs[0][1], outputs[1][1])


def test_worker_threads_score_as_one_thread_does():
    """The BLAS pipeline split over worker threads gives the serial pipeline's numbers."""
    from freeagentics.inference._blas_threads import single_threaded_blas
    from freeagentics.inference._kernels import KernelSet

    model = explorer_model(6, policy_len=3)
    plan = PrefixPlan(model.A, model.B[0], model.policies, np.float32)
    assert plan.uses_blas
    n, num_policies = 1500, model.num_policies
    rng = np.random.default_rng(7)
    qs = rng.dirichlet(np.full(36, 0.5), n).astype(np.float32)
    gamma = np.full(n, 8.0, np.float32)
    log_E = np.full(num_policies, -np.log(num_policies), np.float32)
    scores = rng.normal(size=(1, plan.obs_offsets[-1])).astype(np.float32)
    score = KernelSet().serial("policy_scores_predicted")
    outputs = []
    for run in (plan._pipeline, plan._threaded_pipeline):
        G, q_pi = np.empty((n, num_policies), np.float32), np.empty((n, num_policies), np.float32)
        per_prefix = np.empty((n, plan.num_prefixes), np.float32)
        with single_threaded_blas():
            run(score, 0, {}, qs, scores, True, True, gamma, log_E, per_prefix, G, q_pi)
        outputs.append((G, q_pi))
    np.testing.assert_array_equal(outputs[0][0], outputs[1][0])
    np.testing.assert_array_equal(outputs[0][1], outputs[1][1])
