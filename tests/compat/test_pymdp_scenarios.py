"""The scenarios of pymdp 0.0.7.1's own agent and demo tests, run side by side.

Each scenario drives our ``Agent`` and pymdp's ``Agent`` (the oracle, imported at test
time only) through the same calls on the same arrays and observations, and requires
the same beliefs, free energies, policy posteriors, learned parameters and actions to
1e-9: construction defaults, reset under VANILLA and MMP, state inference (VANILLA and
MMP, one and several factors, index and distributional observations), the MMP
perception-action loop, Dirichlet learning of B and D (also under MMP), the action
sampling helpers, and the T-maze, T-maze learning, epistemic bandit and grid-world
demos.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from pymdp_pair import assert_nested_close, pair, step_both

pymdp_agent = pytest.importorskip("pymdp.agent")
pymdp_utils = pytest.importorskip("pymdp.utils")
pymdp_models = pytest.importorskip("pymdp.default_models")
pymdp_envs = pytest.importorskip("pymdp.envs")

from freeagentics.compat.pymdp import Agent  # noqa: E402

PymdpAgent = pymdp_agent.Agent
RNG = np.random.default_rng(7)
utils = pymdp_utils


@pytest.fixture(autouse=True)
def _seeded():
    """pymdp's helpers draw from numpy's global state: fix it for repeatable models."""
    state = np.random.get_state()  # noqa: NPY002
    np.random.seed(1234)  # noqa: NPY002
    yield
    np.random.set_state(state)  # noqa: NPY002


def _model(num_obs, num_states, num_controls):
    return dict(
        A=utils.random_A_matrix(num_obs, num_states),
        B=utils.random_B_matrix(num_states, num_controls),
    )


def test_defaults_without_control_fac_idx():
    ours, theirs = pair(PymdpAgent, **_model([2, 4], [2, 2], [2, 2]))
    assert ours.num_controls == theirs.num_controls == [2, 2]
    assert ours.control_fac_idx == theirs.control_fac_idx == [0, 1]
    assert len(ours.policies) == len(theirs.policies)
    for p, q in zip(ours.policies, theirs.policies, strict=True):
        np.testing.assert_array_equal(p, q)


def test_reset_vanilla():
    ours, theirs = pair(PymdpAgent, **_model([2, 4], [2, 3], [2, 3]), inference_algo="VANILLA")
    assert_nested_close(ours.qs, theirs.qs, "qs")
    assert ours.curr_timestep == theirs.curr_timestep == 0


@pytest.mark.parametrize(
    ("use_BMA", "policy_sep_prior"), [(True, False), (False, True)], ids=["BMA", "PSP"]
)
def test_reset_mmp(use_BMA, policy_sep_prior):
    kwargs = dict(
        **_model([2, 4], [2, 3], [2, 3]),
        inference_algo="MMP",
        use_BMA=use_BMA,
        policy_sep_prior=policy_sep_prior,
    )
    ours, theirs = pair(PymdpAgent, **kwargs)
    assert_nested_close(ours.latest_belief, theirs.latest_belief, "latest_belief")
    assert len(ours.qs[0]) == len(theirs.qs[0]) == ours.inference_horizon + ours.policy_len + 1
    assert_nested_close(ours.qs[0][0], theirs.qs[0][0], "qs[0][0]")
    assert ours.curr_timestep == 0


@pytest.mark.parametrize(
    ("dims", "algo", "policy_len"),
    [
        (([5], [3], [1]), "VANILLA", 1),
        (([2, 4], [2, 3], [2, 3]), "VANILLA", 1),
        (([5], [3], [1]), "MMP", 1),
        (([2, 4], [2, 2], [2, 2]), "MMP", 3),
    ],
)
@pytest.mark.parametrize("distr_obs", [False, True], ids=["indices", "distributions"])
def test_infer_states(dims, algo, policy_len, distr_obs):
    model = _model(*dims)
    ours, theirs = pair(PymdpAgent, **model, inference_algo=algo, policy_len=policy_len)
    if distr_obs:  # the likelihood of one hidden state as the observation
        obs = np.empty(len(dims[0]), dtype=object)
        for m, a in enumerate(model["A"]):
            obs[m] = a.reshape(a.shape[0], -1)[:, m]
    else:
        obs = [int(RNG.integers(o)) for o in dims[0]]
    assert_nested_close(
        ours.infer_states(obs, distr_obs=distr_obs), theirs.infer_states(obs, distr_obs=distr_obs)
    )


def test_mmp_perception_action_loop():
    num_obs, num_states = [3, 2], [4, 3]
    C = utils.obj_array_zeros(num_obs)
    C[1][0], C[1][1] = 1.0, -2.0
    ours, theirs = pair(
        PymdpAgent,
        **_model(num_obs, num_states, [1, 3]),
        C=C,
        control_fac_idx=[1],
        inference_algo="MMP",
        policy_len=2,
        inference_horizon=3,
    )
    for t in range(10):
        step_both(ours, theirs, [int(RNG.integers(o)) for o in num_obs], what=f"t={t}")
    assert len(ours.prev_obs) == len(theirs.prev_obs) == 10
    assert len(ours.prev_actions) == 10
    assert_nested_close(ours.latest_belief, theirs.latest_belief, "latest_belief")


def test_B_learning_on_a_grid():
    pB = utils.obj_array_ones([[9, 9, 4]])
    ours, theirs = pair(
        PymdpAgent,
        A=utils.to_obj_array(np.eye(9)),
        B=utils.norm_dist_obj_arr(pB),
        pB=pB,
        save_belief_hist=True,
        lr_pB=2.0,
    )
    true_B = pymdp_models.generate_grid_world_transitions(
        ["LEFT", "DOWN", "RIGHT", "UP"], num_rows=3, num_cols=3
    )
    state = 0
    for t in range(10):
        step_both(ours, theirs, [state], what=f"t={t}")
        if t > 0:
            assert_nested_close(
                ours.update_B(ours.qs_hist[-2]), theirs.update_B(theirs.qs_hist[-2]), f"t={t} pB"
            )
            assert_nested_close(ours.B, theirs.B, f"t={t} B")
        state = int(np.argmax(true_B[:, state, int(theirs.action[0])]))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(save_belief_hist=True),
        dict(save_belief_hist=False),
        dict(save_belief_hist=True, lr_pD=2.0, factors_to_learn=[0]),
    ],
)
def test_D_learning_vanilla(kwargs):
    num_obs, num_states = [2, 4], [2, 3]
    model = _model(num_obs, num_states, [1, 1])
    pD = utils.dirichlet_like(utils.random_single_categorical(num_states))
    ours, theirs = pair(PymdpAgent, **model, pD=pD, **kwargs)
    first = None
    for t in range(10):
        obs = [int(RNG.integers(o)) for o in num_obs]
        qs = ours.infer_states(obs)
        assert_nested_close(qs, theirs.infer_states(obs), f"t={t} qs")
        first = qs if first is None else first
    qs_t0 = None if kwargs["save_belief_hist"] else first
    assert_nested_close(ours.update_D(qs_t0), theirs.update_D(qs_t0), "pD")
    assert_nested_close(ours.D, theirs.D, "D")


@pytest.mark.parametrize(
    ("use_BMA", "policy_sep_prior"), [(True, False), (False, True)], ids=["BMA", "PSP"]
)
def test_D_learning_mmp(use_BMA, policy_sep_prior):
    num_obs, num_states = [2], [2, 3, 3]
    model = _model(num_obs, num_states, [2, 3, 1])
    ours, theirs = pair(
        PymdpAgent,
        **model,
        pD=utils.dirichlet_like(utils.random_single_categorical(num_states)),
        inference_algo="MMP",
        use_BMA=use_BMA,
        policy_sep_prior=policy_sep_prior,
        inference_horizon=3,
        save_belief_hist=True,
    )
    for t in range(5):
        step_both(ours, theirs, [int(RNG.integers(num_obs[0]))], what=f"t={t}")
    assert_nested_close(ours.latest_belief, theirs.latest_belief, "latest_belief")
    assert_nested_close(ours.update_D(), theirs.update_D(), "pD")


def _two_state_model(**kwargs):
    return dict(
        A=utils.to_obj_array(np.eye(2)),
        B=utils.construct_controllable_B([2], [2]),
        C=utils.to_obj_array(np.array([1.01, 1.0])),
        **kwargs,
    )


@pytest.mark.parametrize(
    ("selection", "sampling", "alpha"),
    [
        ("stochastic", "marginal", 16.0),
        ("stochastic", "marginal", 0.0),
        ("stochastic", "full", 16.0),
        ("deterministic", "full", 16.0),
        ("deterministic", "marginal", 16.0),
    ],
)
def test_sample_action_test_helper(selection, sampling, alpha):
    ours, theirs = pair(
        PymdpAgent,
        **_two_state_model(alpha=alpha, action_selection=selection, sampling_mode=sampling),
    )
    for agent in (ours, theirs):
        agent.infer_states([0])
        agent.infer_policies()
    state = np.random.get_state()  # noqa: NPY002
    action, probs = ours._sample_action_test()
    np.random.set_state(state)  # noqa: NPY002 (the same draw as pymdp's)
    action_ref, probs_ref = theirs._sample_action_test()
    assert_nested_close(probs, probs_ref, "p")
    np.testing.assert_array_equal(action, action_ref)
    assert ours.curr_timestep == 1


def test_alpha_sharpens_the_action_distribution():
    entropies = []
    for alpha in (16.0, 0.0):
        agent = Agent(**_two_state_model(alpha=alpha, action_selection="stochastic"))
        agent.infer_states([0])
        agent.infer_policies()
        _, p = agent._sample_action_test()
        entropies.append(-(p[0] * np.log(p[0] + 1e-16)).sum())
    assert entropies[1] > entropies[0]


@pytest.mark.parametrize("selection", ["stochastic", "deterministic"])
def test_uncontrolled_factor_keeps_action_zero(selection):
    model = _model([2], [2, 2], [2, 1])
    ours, theirs = pair(PymdpAgent, **model, action_selection=selection)
    assert_nested_close(ours.infer_policies(), theirs.infer_policies(), "before any observation")
    assert ours.sample_action()[1] == 0


def test_epistemic_bandit_demo():
    A, B, C, control_fac_idx = pymdp_models.generate_epistemic_MAB_model()
    ours, theirs = pair(PymdpAgent, A=A, B=B, C=C, control_fac_idx=control_fac_idx)
    observation, state = [2, 2, 0], [0, 0]
    for t in range(5):
        step_both(ours, theirs, observation, what=f"t={t}")
        for f, s in enumerate(state):
            state[f] = utils.sample(B[f][:, s, int(theirs.action[f])])
        observation = [utils.sample(A[g][:, state[0], state[1]]) for g in range(len(A))]


def _tmaze_pair(env, **kwargs):
    A, B = env.get_likelihood_dist(), env.get_transition_dist()
    ours, theirs = pair(PymdpAgent, A=A, B=B, control_fac_idx=[0], **kwargs)
    return ours, theirs


def test_tmaze_demo():
    env = pymdp_envs.TMazeEnv(reward_probs=[0.98, 0.02])
    ours, theirs = _tmaze_pair(env)
    for agent in (ours, theirs):  # preferences edited after construction, as the demo does
        agent.C[1][1], agent.C[1][2] = 3.0, -3.0
    obs = env.reset()
    for t in range(5):
        step_both(ours, theirs, obs, what=f"t={t}")
        obs = env.step(theirs.action)


def test_tmaze_learning_demo():
    env = pymdp_envs.TMazeEnvNullOutcome(reward_probs=[0.85, 0.15])
    pA = utils.dirichlet_like(env.get_likelihood_dist(), scale=1e16)
    pA[1][1:, 1:3, :] = 1.0
    ours, theirs = pair(
        PymdpAgent,
        A=utils.norm_dist_obj_arr(pA),
        pA=pA,
        B=copy.deepcopy(env.get_transition_dist()),
        control_fac_idx=[0],
        modalities_to_learn=[1],
        lr_pA=0.25,
        use_param_info_gain=True,
    )
    for agent in (ours, theirs):
        agent.D[0] = utils.onehot(0, agent.num_states[0])
        agent.C[1][1], agent.C[1][2] = 2.0, -2.0
    obs = env.reset()
    for t in range(150):
        step_both(ours, theirs, obs, what=f"t={t}")
        assert_nested_close(ours.update_A(obs), theirs.update_A(obs), f"t={t} pA", tol=1e-6)
        obs = env.step(theirs.action)
    assert_nested_close(ours.A, theirs.A, "A")


def _grid_B() -> np.ndarray:
    """3 x 3 grid, moves up, right, down, left, stay (linear index = 3 y + x)."""
    B = np.zeros((9, 9, 5))
    for s in range(9):
        y, x = divmod(s, 3)
        moves = [
            s if y == 0 else s - 3,
            s if x == 2 else s + 1,
            s if y == 2 else s + 3,
            s if x == 0 else s - 1,
            s,
        ]
        for u, nxt in enumerate(moves):
            B[nxt, s, u] = 1.0
    return B


@pytest.mark.parametrize("policy_len", [1, 3])
def test_grid_world_demo(policy_len):
    C = np.zeros(9)
    C[7] = 1.0
    ours, theirs = pair(
        PymdpAgent,
        A=utils.to_obj_array(np.eye(9)),
        B=utils.to_obj_array(_grid_B()),
        C=utils.to_obj_array(C),
        policy_len=policy_len,
    )
    state = 2
    for t in range(4):
        step_both(ours, theirs, [state], what=f"t={t}")
        state = int(np.argmax(_grid_B()[:, state, int(theirs.action[0])]))


def test_mmp_iteration_record_matches_pymdp():
    """``_infer_states_test`` (used by pymdp's SPM validation) under a policy-separated prior."""
    num_obs = [3]
    C = utils.obj_array_zeros(num_obs)
    C[0][0] = 1.0
    ours, theirs = pair(
        PymdpAgent,
        **_model(num_obs, [3], [2]),
        C=C,
        inference_algo="MMP",
        policy_len=1,
        inference_horizon=3,
        use_BMA=False,
        policy_sep_prior=True,
    )
    for t in range(5):
        obs = (int(RNG.integers(num_obs[0])),)
        qs, xn, vn = ours._infer_states_test(obs)
        qs_ref, xn_ref, vn_ref = theirs._infer_states_test(obs)
        assert_nested_close(qs, qs_ref, f"t={t} qs")
        assert_nested_close(xn, xn_ref, f"t={t} xn")
        assert_nested_close(vn, vn_ref, f"t={t} vn")
        assert_nested_close(ours.infer_policies(), theirs.infer_policies(), f"t={t} policies")
        ours.action = theirs.sample_action()
        ours.step_time()
