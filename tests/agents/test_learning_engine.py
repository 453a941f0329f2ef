"""The fused engine for learning cohorts: against the general numpy path, and against
itself (serial and parallel kernels, a pickled copy; the fused step against its stages
is in test_fused_step.py).

The general path and the fused engine agree to rounding, not bit for bit: the general
path is numpy (softmax of log-likelihoods over fixed-point sweeps, pairwise sums,
BLAS contractions, numpy's own SIMD logarithm), the engine numba kernels (products of
likelihoods, sums in outcome order, the logarithm of ``_fastmath``); making either
compute the other's operations would make it the other. What must be exact is exact:
the fused step equals its stages called one by one, serial equals parallel, and a copy
continues as the original.
"""

from __future__ import annotations

import numpy as np
import pytest
from model_factory import random_model
from same_cohorts import assert_same_state

from freeagentics.agents import Cohort, CohortConfig
from freeagentics.inference import EFEOptions
from freeagentics.models import GenerativeModel
from freeagentics.models.builders import explorer_model, locator_model
from freeagentics.models.process import GenerativeProcess

#: the largest differences seen on these runs are 9e-15 (float64) and 5e-6 (float32),
#: absolute, in q_pi and G; the bounds leave a factor of about five
TOLERANCE = {"float64": 5e-14, "float32": 2e-5}


def _run_both(model, n, ticks, seed, dtype, **config):
    """Step a fused and a general learning cohort on one world; each chooses its own
    actions (the world follows the fused one's, the same when the test passes)."""
    settings = dict(dtype=dtype, learn_A=True, gamma=8.0, alpha=8.0, **config)
    fused = Cohort(model, n, CohortConfig(**settings))
    general = Cohort(model, n, CohortConfig(fast_path=False, **settings))
    assert fused.engine_name == "FusedLearningEngine"
    assert general.engine_name == "GeneralEngine"
    world = GenerativeProcess(model, n, np.random.default_rng(seed))
    for _ in range(ticks):
        obs = world.observe()
        fused.step(obs)
        general.step(obs)
        yield fused, general
        world.advance(fused.actions)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "make", [lambda: explorer_model(6), lambda: locator_model(4, policy_len=2)]
)
def test_fused_learning_follows_the_general_trajectory(make, dtype):
    tol = TOLERANCE[dtype]
    for fused, general in _run_both(make(), 40, 12, seed=3, dtype=dtype):
        assert fused.qs[0].dtype == fused.pA[0].dtype == np.dtype(dtype)
        np.testing.assert_allclose(fused.qs[0], general.qs[0], atol=tol / 10, rtol=0)
        np.testing.assert_allclose(fused.free_energy, general.free_energy, atol=tol / 2, rtol=0)
        np.testing.assert_allclose(fused.pA[0], general.pA[0], rtol=tol / 10, atol=0)
        np.testing.assert_allclose(fused.G, general.G, atol=tol / 2, rtol=0)
        np.testing.assert_allclose(fused.q_pi, general.q_pi, atol=tol, rtol=0)
        # one trajectory: each cohort chooses for itself, and they choose alike
        np.testing.assert_array_equal(fused.actions, general.actions)


def test_fused_learning_with_several_modalities_and_per_agent_preferences():
    rm = random_model(11, num_factors=1, num_modalities=3, max_states=6)
    model = GenerativeModel.create(rm.A, rm.B, rm.C, rm.D, policy_len=2)
    n = 12
    efe = EFEOptions(info_gain="factorised", utility="raw")
    C = [np.random.default_rng(5).normal(size=(n, o)) for o in model.num_obs]
    run = _run_both(model, n, 6, seed=4, dtype="float64", efe=efe, lr_pA=0.5)
    for t, (fused, general) in enumerate(run):
        if t == 0:
            fused.set_preferences(C)
            general.set_preferences(C)
        for ours, theirs in zip(fused.pA, general.pA, strict=True):
            np.testing.assert_allclose(ours, theirs, rtol=1e-12)
        np.testing.assert_allclose(fused.qs[0], general.qs[0], atol=1e-12)
        np.testing.assert_allclose(fused.q_pi, general.q_pi, atol=1e-12)
        np.testing.assert_array_equal(fused.actions, general.actions)


def test_learned_likelihood_is_read_from_the_concentrations():
    """``A_agents`` is the normalised ``pA`` after every update, though the fused
    engine never stores it."""
    model = explorer_model(4)
    cohort = Cohort(model, 3, CohortConfig(dtype="float64", learn_A=True))
    assert cohort.engine_name == "FusedLearningEngine"
    obs = np.array([[0], [2], [4]])
    cohort.step(obs)
    learned = cohort.A_agents[0]
    np.testing.assert_allclose(learned, cohort.pA[0] / cohort.pA[0].sum(1, keepdims=True))
    assert not np.allclose(learned[0], model.A[0])  # it did learn
    np.testing.assert_allclose(learned.sum(1), 1.0)
    cohort.step(obs)
    assert cohort.A_agents[0] is not learned


@pytest.mark.parametrize(
    ("config", "engine"),
    [
        (dict(learn_A=True), "FusedLearningEngine"),
        (dict(learn_A=True, learn_B=True), "GeneralEngine"),
        (
            dict(learn_A=True, efe=EFEOptions(use_param_info_gain=True)),
            "GeneralEngine",
        ),
        (dict(learn_A=True, fast_path=False), "GeneralEngine"),
    ],
)
def test_which_learning_cohorts_are_fused(config, engine):
    assert Cohort(explorer_model(4), 2, CohortConfig(**config)).engine_name == engine


def test_serial_and_parallel_kernels_give_the_same_trajectory():
    from freeagentics.inference._kernels import KERNELS
    from freeagentics.inference._learner_kernels import LEARNER_KERNELS

    model = explorer_model(6)
    table = {**KERNELS, **LEARNER_KERNELS}
    cohorts = []
    for variant in (0, 1):
        cohort = Cohort(model, 300, CohortConfig(learn_A=True))
        cohort.engine._kernels = lambda name, n, v=variant: table[name][v]
        cohorts.append(cohort)
    world = GenerativeProcess(model, 300, np.random.default_rng(2))
    for _ in range(6):
        obs = world.observe()
        world.advance(cohorts[0].step(obs))
        cohorts[1].step(obs)
        assert_same_state(*cohorts)


def test_a_pickled_learning_cohort_continues_the_same_trajectory():
    """A copy sent to another process (pickled) steps exactly as the original."""
    import pickle

    model = explorer_model(5)
    cohort = Cohort(model, 20, CohortConfig(learn_A=True))
    world = GenerativeProcess(model, 20, np.random.default_rng(9))
    for _ in range(3):
        world.advance(cohort.step(world.observe()))
    copy = pickle.loads(pickle.dumps(cohort))
    for _ in range(4):
        obs = world.observe()
        world.advance(cohort.step(obs))
        copy.step(obs)
        assert_same_state(cohort, copy)
