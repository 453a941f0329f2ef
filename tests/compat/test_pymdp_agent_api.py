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
        (dict(inference_algo="MMP", inference_horizon=0), "inference_horizon must be"),
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


def test_learning_under_mmp_is_refused_as_pymdp_cannot_do_it():
    rm = random_model(7, num_factors=2, num_modalities=2)
    agent = Agent(
        A=obj_array(rm.A),
        B=obj_array(rm.B),
        pA=obj_array(rm.A),
        pB=obj_array(rm.B),
        inference_algo="MMP",
    )
    agent.infer_states([0, 1])
    for call in (lambda: agent.update_A([0, 1]), lambda: agent.update_B(agent.qs)):
        with pytest.raises(ConfigurationError, match="under MMP qs is per policy"):
            call()
    with pytest.raises(ConfigurationError, match="use_param_info_gain and pB"):
        _agent(inference_algo="MMP", use_param_info_gain=True, pB=obj_array(rm.B))


def test_the_mmp_test_helper_needs_mmp():
    with pytest.raises(ConfigurationError, match="records MMP iterations"):
        _agent()._infer_states_test([0, 1])


def test_the_mmp_test_helper_records_each_iteration():
    agent = _agent(inference_algo="MMP", policy_len=2)
    qs, xn, vn = agent._infer_states_test([0, 1])
    window = len(qs[0])
    assert len(xn) == len(vn) == len(agent.policies)
    assert len(xn[0]) == agent.inference_params["num_iter"]
    assert [x.shape for x in xn[0][-1]] == [(s, window) for s in agent.num_states]
    for f in range(agent.num_factors):  # the last iteration's beliefs are the posterior
        np.testing.assert_allclose(xn[0][-1][f][:, 0], qs[0][0][f])


@pytest.mark.parametrize(
    ("obs", "fragment"),
    [
        ([np.ones(3)], "one distribution per modality (2)"),
        ([np.ones(2), np.ones(2)], "modality 0 must be"),
        ([np.full(7, np.nan)[:0], np.ones(2)], "modality 0 must be"),
    ],
)
def test_bad_distributional_observations_are_refused(obs, fragment):
    agent = _agent()
    with pytest.raises(ObservationError) as info:
        agent.infer_states(obj_array(obs), distr_obs=True)
    assert fragment in str(info.value)


def test_without_rng_stochastic_choices_follow_numpy_global_state_as_pymdp():
    pymdp_agent = pytest.importorskip("pymdp.agent")
    rm = random_model(5, num_factors=1, num_modalities=2)
    kwargs = dict(action_selection="stochastic", alpha=2.0, policy_len=2)
    runs = []
    for cls in (Agent, pymdp_agent.Agent):
        agent = cls(A=obj_array(rm.A), B=obj_array(rm.B), C=obj_array(rm.C), **kwargs)
        np.random.seed(3)  # noqa: NPY002 (the state pymdp draws from)
        seq = []
        for t in range(6):
            agent.infer_states([t % rm.num_obs[0], 0])
            agent.infer_policies()
            seq.append(agent.sample_action().copy())
        runs.append(np.stack(seq))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_edits_to_A_C_and_D_between_steps_take_effect():
    pymdp_agent = pytest.importorskip("pymdp.agent")
    from pymdp_pair import assert_nested_close, pair

    rm = random_model(9, num_factors=2, num_modalities=2)
    ours, theirs = pair(pymdp_agent.Agent, A=obj_array(rm.A), B=obj_array(rm.B), C=obj_array(rm.C))
    for t in range(4):
        for agent in (ours, theirs):
            agent.C[0][0] = float(t)  # in place
            agent.D[1] = np.roll(rm.D[1], t)  # replaced
            if t == 2:
                agent.A = obj_array([np.roll(a, 1, axis=0) for a in rm.A])
            if t == 3:
                agent.action = None  # back to the prior D
        assert_nested_close(ours.infer_states([t % 2, 0]), theirs.infer_states([t % 2, 0]))
        assert_nested_close(ours.infer_policies(), theirs.infer_policies())
        ours.sample_action()
        theirs.sample_action()


def test_a_joint_outcome_table_over_the_limit_is_refused_before_allocation():
    A = [np.full((60, 50, 50), 1.0 / 60) for _ in range(4)]  # 2 500 states x 60^4 outcomes
    B = [np.eye(50)[:, :, None], np.eye(50)[:, :, None]]
    agent = Agent(A=obj_array(A), B=obj_array(B))
    with pytest.raises(ConfigurationError, match="over the limit"):
        agent.infer_states([0, 0, 0, 0])
    quiet = Agent(A=obj_array(A), B=obj_array(B), use_states_info_gain=False)
    quiet.infer_states([0, 0, 0, 0])
    assert quiet.infer_policies()[0].shape == (1,)
