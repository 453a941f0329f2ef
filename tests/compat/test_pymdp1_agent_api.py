"""The pymdp 1.0-compatible Agent: shapes, the loop, and clear errors where it differs."""

from __future__ import annotations

import numpy as np
import pytest
from model_factory import random_model

from freeagentics.compat.pymdp1 import Agent
from freeagentics.errors import ConfigurationError, ObservationError


def _agent(batch_size: int = 3, **kwargs) -> Agent:
    rm = random_model(11, num_factors=2, num_modalities=2)
    return Agent(A=rm.A, B=rm.B, C=rm.C, batch_size=batch_size, **kwargs)


def test_a_pymdp1_loop_runs_with_batch_first_shapes():
    agent = _agent(policy_len=2, dtype="float64")
    prior, qs_hist = agent.D, None
    for _ in range(3):
        obs = [np.array([0, 1, 0]), np.array([1, 1, 0])]
        qs = agent.infer_states(obs, prior)
        q_pi, G = agent.infer_policies(qs)
        action = agent.sample_action(q_pi)
        prior = agent.update_empirical_prior(action, qs)
        qs_hist = (
            qs
            if qs_hist is None
            else [np.concatenate([h, q], 1) for h, q in zip(qs_hist, qs, strict=True)]
        )
    assert [q.shape for q in qs] == [(3, 1, s) for s in agent.num_states]
    assert q_pi.shape == G.shape == (3, agent.policies.num_policies)
    np.testing.assert_allclose(q_pi.sum(-1), 1.0)
    assert action.shape == (3, 2) and action.dtype == np.int64
    assert [p.shape for p in prior] == [(3, s) for s in agent.num_states]
    assert qs_hist[0].shape[1] == 3
    probs = agent.multiaction_probabilities(q_pi)
    assert probs.shape == (3, int(np.prod(agent.num_controls)))
    np.testing.assert_allclose(probs.sum(-1), 1.0)
    assert agent.get_model_dimensions()["num_policies"] == agent.policies.num_policies


def test_qs_history_is_appended_and_cut_to_the_inference_horizon():
    agent = _agent(inference_horizon=2)
    obs = [np.zeros(3, int), np.zeros(3, int)]
    qs = agent.infer_states(obs, agent.D)
    for _ in range(3):
        qs = agent.infer_states(obs, agent.D, qs_hist=qs)
    assert qs[0].shape[:2] == (3, 2)


def test_stochastic_choices_repeat_under_the_same_key():
    agent = _agent(action_selection="stochastic", alpha=1.0)
    qs = agent.infer_states([np.array([0, 1, 2]) % 2, np.array([1, 0, 1])], agent.D)
    q_pi, _ = agent.infer_policies(qs)
    draws = [agent.sample_action(q_pi, rng_key=np.array([0, 42])) for _ in range(2)]
    np.testing.assert_array_equal(draws[0], draws[1])
    with pytest.raises(ConfigurationError, match="rng_key"):
        agent.sample_action(q_pi)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        (dict(inference_algo="mmp"), "inference_algo='mmp'"),
        (dict(H=[np.ones(2)]), "inductive"),
        (dict(B_action_dependencies=[[0], [1]]), "B_action_dependencies"),
        (dict(use_param_info_gain=True), "use_param_info_gain"),
        (dict(learn_A=True), "learning"),
        (dict(batch_size=0), "batch_size must be >= 1"),
    ],
)
def test_unsupported_options_are_refused(kwargs, fragment):
    with pytest.raises(ConfigurationError) as info:
        _agent(**kwargs)
    assert fragment in str(info.value)


def test_per_agent_likelihoods_that_differ_are_refused():
    rm = random_model(11, num_factors=1, num_modalities=1)
    other = rm.A[0][::-1]  # a different, still normalised, A
    with pytest.raises(ConfigurationError, match="differs between batch rows"):
        Agent(A=[np.stack([rm.A[0], other])], B=rm.B, batch_size=2)
    with pytest.raises(ConfigurationError, match="leading batch axis of size 2"):
        Agent(A=[np.stack([rm.A[0]] * 3)], B=rm.B, batch_size=2)


@pytest.mark.parametrize(
    ("obs", "error", "fragment"),
    [
        ([np.array([0, 1, 0])], ObservationError, "expected 2"),
        ([np.array([0, 9, 0]), np.array([0, 0, 0])], ObservationError, "outside"),
        ([np.array([0.5, 1, 0]), np.array([0, 0, 0])], ObservationError, "integer outcome"),
        ([np.array([0, 1]), np.array([0, 0])], ObservationError, "shape (3,)"),
    ],
)
def test_bad_observations_name_the_modality(obs, error, fragment):
    agent = _agent()
    with pytest.raises(error) as info:
        agent.infer_states(obs, agent.D)
    assert fragment in str(info.value)


def test_bad_priors_actions_and_posteriors_are_refused():
    agent = _agent()
    obs = [np.zeros(3, int), np.zeros(3, int)]
    with pytest.raises(ConfigurationError, match="one \\(batch, S_f\\) array per factor"):
        agent.infer_states(obs, agent.D[:1])
    qs = agent.infer_states(obs, agent.D)
    with pytest.raises(ConfigurationError, match="action has shape"):
        agent.update_empirical_prior(np.zeros((3, 1)), qs)
    with pytest.raises(ConfigurationError, match="q_pi has shape"):
        agent.sample_action(np.ones((2, 2)))
    with pytest.raises(ConfigurationError, match="mask"):
        agent.infer_states(obs, agent.D, mask=[1, 1])
    with pytest.raises(ConfigurationError, match="infer_parameters"):
        agent.infer_parameters(qs, obs, None)


def test_categorical_observations_are_checked():
    agent = _agent(categorical_obs=True)
    good = [np.full((3, o), 1.0 / o) for o in agent.num_obs]
    assert agent.infer_states(good, agent.D)[0].shape == (3, 1, agent.num_states[0])
    with pytest.raises(ObservationError, match="categorical observation of modality 1"):
        agent.infer_states([good[0], good[1][:, :1]], agent.D)
