"""A learning cohort's fused step gives the numbers of its stages called one by one,
bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from model_factory import random_model
from same_cohorts import assert_same_state

from freeagentics.agents import Cohort, CohortConfig
from freeagentics.inference import EFEOptions
from freeagentics.models import GenerativeModel
from freeagentics.models.process import GenerativeProcess


def _staged_step(cohort: Cohort, obs: np.ndarray) -> np.ndarray:
    """What ``Cohort.step`` does, stage by stage through the public methods."""
    previous = cohort.actions
    cohort.infer_states(obs)
    cohort.learn(cohort._check_obs(obs), previous)
    if not cohort._planned or cohort._since_plan >= cohort.config.plan_every:
        cohort.infer_policies()
    return cohort.sample_action()


def _compare(model, config: CohortConfig, engine: str, n: int = 30, ticks: int = 10) -> None:
    fused, staged = Cohort(model, n, config), Cohort(model, n, config)
    assert fused.engine_name == staged.engine_name == engine
    world = GenerativeProcess(model, n, np.random.default_rng(8))
    for _ in range(ticks):
        obs = world.observe()
        world.advance(fused.step(obs))
        _staged_step(staged, obs)
        assert_same_state(fused, staged)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("plan_every", [1, 2])
@pytest.mark.parametrize("learning", ["A", "B", "AB"])
@pytest.mark.parametrize("novelty", [False, True])
def test_learning_step_equals_its_stages(dtype, plan_every, learning, novelty):
    rm = random_model(21, num_factors=1, num_modalities=2, max_states=7, max_obs=5)
    model = GenerativeModel.create(rm.A, rm.B, rm.C, rm.D, policy_len=2)
    config = CohortConfig(
        dtype=dtype,
        learn_A="A" in learning,
        learn_B="B" in learning,
        lr_pA=0.7,
        lr_pB=0.6,
        plan_every=plan_every,
        efe=EFEOptions(use_param_info_gain=novelty),
    )
    _compare(model, config, "FusedLearningEngine")
