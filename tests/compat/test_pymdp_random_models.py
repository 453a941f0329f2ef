"""Our compat Agent against pymdp 0.0.7.1 on random models, step by step.

Marginal message passing over random inference horizons, plan lengths and edge
handling (Bayesian model average or policy-separated prior), and preferences with a
time axis (under VANILLA and MMP): beliefs for every policy and step of the window,
free energies, G, q_pi, the belief at the edge of the window and the actions must agree
with pymdp's to 1e-9.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from model_factory import obj_array, random_model
from pymdp_pair import assert_nested_close, pair, step_both

from freeagentics.errors import ConfigurationError

pymdp_agent = pytest.importorskip("pymdp.agent")


def _small_model(seed: int):
    """At most 16 policies per step so that pymdp's per-policy loops stay quick."""
    return random_model(seed, max_states=3, max_obs=3, max_controls=2)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    horizon=st.integers(1, 4),
    policy_len=st.integers(1, 2),
    policy_sep_prior=st.booleans(),
    save_belief_hist=st.booleans(),
)
def test_mmp_matches_pymdp(seed, horizon, policy_len, policy_sep_prior, save_belief_hist):
    rm = _small_model(seed)
    rng = np.random.default_rng(seed)
    ours, theirs = pair(
        pymdp_agent.Agent,
        A=obj_array(rm.A),
        B=obj_array(rm.B),
        C=obj_array(rm.C),
        D=obj_array(rm.D),
        inference_algo="MMP",
        inference_horizon=horizon,
        policy_len=policy_len,
        use_BMA=not policy_sep_prior,
        policy_sep_prior=policy_sep_prior,
        save_belief_hist=save_belief_hist and policy_sep_prior,
        gamma=float(rng.choice([1.0, 16.0])),
    )
    for t in range(horizon + 2):
        obs = [int(rng.integers(o)) for o in rm.num_obs]
        step_both(ours, theirs, obs, what=f"t={t}")
        assert_nested_close(ours.latest_belief, theirs.latest_belief, f"t={t} latest_belief")


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), algo=st.sampled_from(["VANILLA", "MMP"]))
def test_time_dependent_preferences_match_pymdp(seed, algo):
    rm = _small_model(seed)
    rng = np.random.default_rng(seed)
    policy_len = int(rng.integers(1, 3))
    steps = policy_len + (1 if algo == "MMP" else 0) + int(rng.integers(0, 2))
    C = [rng.normal(scale=2.0, size=(o, steps)) for o in rm.num_obs]
    ours, theirs = pair(
        pymdp_agent.Agent,
        A=obj_array(rm.A),
        B=obj_array(rm.B),
        C=obj_array(C),
        inference_algo=algo,
        policy_len=policy_len,
    )
    for t in range(3):
        step_both(ours, theirs, [int(rng.integers(o)) for o in rm.num_obs], what=f"t={t}")


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), algo=st.sampled_from(["VANILLA", "MMP"]))
def test_distributional_observations_match_pymdp(seed, algo):
    rm = _small_model(seed)
    rng = np.random.default_rng(seed)
    ours, theirs = pair(
        pymdp_agent.Agent,
        A=obj_array(rm.A),
        B=obj_array(rm.B),
        C=obj_array(rm.C),
        inference_algo=algo,
    )
    for t in range(3):
        obs = obj_array([rng.dirichlet(np.ones(o)) for o in rm.num_obs])
        step_both(ours, theirs, obs, distr_obs=True, what=f"t={t}")


def test_bma_with_a_truncated_history_is_a_clear_error():
    """pymdp keeps ``horizon - 1`` entries of q_pi_hist and then indexes past them."""
    rm = _small_model(3)
    kwargs = dict(
        A=obj_array(rm.A),
        B=obj_array(rm.B),
        inference_algo="MMP",
        inference_horizon=2,
        save_belief_hist=True,
    )
    ours, theirs = pair(pymdp_agent.Agent, **kwargs)
    obs = [0] * len(rm.num_obs)
    for agent, error in ((theirs, IndexError), (ours, ConfigurationError)):
        with pytest.raises(error):
            for _ in range(6):
                agent.infer_states(obs)
                agent.infer_policies()
                agent.sample_action()


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), policy_len=st.integers(1, 2))
def test_parameter_information_gain_matches_pymdp(seed, policy_len):
    rm = _small_model(seed)
    rng = np.random.default_rng(seed)
    ours, theirs = pair(
        pymdp_agent.Agent,
        A=obj_array(rm.A),
        B=obj_array(rm.B),
        C=obj_array(rm.C),
        pA=obj_array([a * rng.uniform(0.5, 4.0) for a in rm.A]),
        pB=obj_array([b * rng.uniform(0.5, 4.0) for b in rm.B]),
        use_param_info_gain=True,
        policy_len=policy_len,
    )
    for t in range(3):
        step_both(ours, theirs, [int(rng.integers(o)) for o in rm.num_obs], what=f"t={t}")
