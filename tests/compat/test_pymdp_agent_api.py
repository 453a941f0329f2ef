"""The pymdp-compatible Agent: its interface, and clear errors where it differs."""

from __future__ import annotations

import numpy as np
import pytest
from model_factory import obj_array, random_model

from freeagentics.compat.pymdp import Agent
from freeagentics.errors import ConfigurationError, ModelError, ObservationError


def _agent(**kwargs) -> Agent:
    rm = random_model(7, num_factors=2, num_modalities=2)
    return Agent(A=obj_array(rm.A), B=obj_array(rm.B), C=obj_array(rm.C), **kwargs)


def test_a_loop_written_for_pymdp_runs_unchanged():
    agent = _agent(policy_len=2)
    for _ in range(3):
        qs = agent.infer_states([0, 1])
        q_pi, G = agent.infer_policies()
        action = agent.sample_action()
    assert qs.dtype == object and len(qs) == 2
    assert q_pi.shape == G.shape == (len(agent.policies),)
    assert action.dtype == np.float64 and action.shape == (2,)
    assert agent.curr_timestep == 3 and len(agent.prev_actions) == 3
    assert isinstance(agent.F, float)


def test_belief_history_and_update_D():
    rm = random_model(3, num_factors=1, num_modalities=1)
    agent = Agent(
        A=obj_array(rm.A),
        B=obj_array(rm.B),
        pD=obj_array([np.ones(rm.num_states[0])]),
        save_belief_hist=True,
    )
    agent.infer_states([0])
    agent.infer_policies()
    qD = agent.update_D()
    np.testing.assert_allclose(qD[0], 1.0 + agent.qs_hist[0][0])
    np.testing.assert_allclose(agent.D[0].sum(), 1.0)
    assert len(agent.q_pi_hist) == 1


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        (dict(inference_algo="VMP"), "'VMP' is not supported"),
        (dict(inference_algo="MMP", use_BMA=False), "use_BMA=True or policy_sep_prior"),
        (dict(inference_algo="MMP", inference_params={"grad_descent": False}), "grad_descent"),
        (dict(action_selection="greedy"), "action_selection must be"),
        (dict(num_controls=[9, 9]), "num_controls[0] = 9"),
    ],
)
def test_unsupported_options_are_refused(kwargs, fragment):
    with pytest.raises(ConfigurationError) as info:
        _agent(**kwargs)
    assert fragment in str(info.value)


def test_time_dependent_C_needs_a_column_per_scored_step():
    rm = random_model(7, num_factors=1, num_modalities=1)
    agent = Agent(
        A=obj_array(rm.A),
        B=obj_array(rm.B),
        C=obj_array([np.zeros((rm.num_obs[0], 2))]),
        policy_len=3,
    )
    with pytest.raises(ConfigurationError, match="one column per scored step"):
        agent.infer_states([0])


def test_unnormalised_A_is_refused_with_its_column():
    rm = random_model(7, num_factors=1, num_modalities=1)
    rm.A[0][:, 1] *= 2
    with pytest.raises(ModelError, match=r"A\[0\]\[:, 1\] sums to 2"):
        Agent(A=obj_array(rm.A), B=obj_array(rm.B))


@pytest.mark.parametrize(
    ("obs", "fragment"),
    [
        ([0], "expected one outcome index per modality (2)"),
        ([0, 99], "modality 1 is 99"),
        ([0.5, 1], "modality 0 is 0.5"),
    ],
)
def test_bad_observations_name_the_modality(obs, fragment):
    agent = _agent()
    with pytest.raises(ObservationError) as info:
        agent.infer_states(obs)
    assert fragment in str(info.value)


def test_learning_without_concentrations_is_an_error():
    agent = _agent()
    agent.infer_states([0, 0])
    with pytest.raises(ConfigurationError, match="update_A needs pA"):
        agent.update_A([0, 0])
    with pytest.raises(ConfigurationError, match="update_B needs pB"):
        agent.update_B(agent.qs)


def test_stochastic_actions_come_from_the_given_generator():
    draws = []
    for _ in range(2):
        agent = _agent(action_selection="stochastic", alpha=1.0, rng=np.random.default_rng(5))
        seq = []
        for _ in range(5):
            agent.infer_states([1, 0])
            agent.infer_policies()
            seq.append(agent.sample_action().copy())
        draws.append(np.stack(seq))
    np.testing.assert_array_equal(draws[0], draws[1])
