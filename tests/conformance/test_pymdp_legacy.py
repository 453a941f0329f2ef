"""Agreement with pymdp 0.0.7.1 (the numpy release the original system used).

Random models with 1-3 factors and 1-3 modalities, policies of length 1-3, learning
on and off: the compat ``Agent`` and a float64 ``Cohort`` of several agents must give
pymdp's posteriors, G, q_pi and learned parameters to 1e-6, and the same actions
wherever the choice is not a near-tie.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from model_factory import RandomModel, expand_A, obj_array, random_model

pymdp_agent = pytest.importorskip("pymdp.agent")
pymdp_control = pytest.importorskip("pymdp.control")

from freeagentics.agents import Cohort, CohortConfig  # noqa: E402
from freeagentics.compat.pymdp import Agent  # noqa: E402
from freeagentics.inference import EFEOptions, action_probabilities, expected_free_energy  # noqa: E402
from freeagentics.models import GenerativeModel  # noqa: E402

TOL = 1e-6
LEGACY_EFE = EFEOptions(utility="log_softmax", info_gain="joint")


def _policy_len(rm: RandomModel, rng: np.random.Generator) -> int:
    """Longest horizon up to 3 that keeps the policy count small enough to loop over."""
    per_step = int(np.prod(rm.num_controls))
    lengths = [t for t in (1, 2, 3) if per_step**t <= 64]
    return int(rng.choice(lengths))


def _clear_winner(marginal: np.ndarray) -> bool:
    top = np.sort(marginal)[::-1]
    return top.size < 2 or top[0] - top[1] > 1e-8


def _assert_close(ours, theirs, what: str) -> None:
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        np.testing.assert_allclose(
            np.asarray(a, float), np.asarray(b, float), atol=TOL, rtol=0, err_msg=f"{what}[{i}]"
        )


def _pymdp_agents(rm: RandomModel, count: int, policy_len: int, **extra) -> list:
    """``count`` pymdp 0.0.7.1 agents of the model ``rm``."""
    arrays = {k: obj_array(getattr(rm, k)) for k in ("A", "B", "C", "D")}
    return [pymdp_agent.Agent(**arrays, policy_len=policy_len, **extra) for _ in range(count)]


def _marginal_of(q_pi, policies, num_controls, factor):
    m = np.zeros(num_controls[factor])
    for p, pol in enumerate(policies):
        m[int(pol[0, factor])] += q_pi[p]
    return m / m.sum()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), learn=st.booleans())
def test_compat_agent_matches_pymdp(seed: int, learn: bool) -> None:
    rm = random_model(seed)
    rng = np.random.default_rng(seed)
    policy_len = _policy_len(rm, rng)
    gamma = float(rng.choice([1.0, 4.0, 16.0]))
    kwargs = dict(C=obj_array(rm.C), D=obj_array(rm.D), policy_len=policy_len, gamma=gamma)
    if learn:
        kwargs.update(pA=obj_array([2.0 * a for a in rm.A]), pB=obj_array([1.5 * b for b in rm.B]))
    theirs = pymdp_agent.Agent(A=obj_array(rm.A), B=obj_array(rm.B), **kwargs)
    ours = Agent(A=obj_array(rm.A), B=obj_array(rm.B), **kwargs)

    for t in range(4):
        obs = [int(rng.integers(o)) for o in rm.num_obs]
        q_prev_theirs, q_prev_ours = theirs.qs, ours.qs
        _assert_close(ours.infer_states(obs), theirs.infer_states(obs), f"t={t} qs")
        if learn:
            if t > 0:
                _assert_close(
                    ours.update_B(q_prev_ours), theirs.update_B(q_prev_theirs), f"t={t} pB"
                )
            _assert_close(ours.update_A(obs), theirs.update_A(obs), f"t={t} pA")
            _assert_close(ours.A, theirs.A, f"t={t} A")
            _assert_close(ours.B, theirs.B, f"t={t} B")
        q_pi, G = ours.infer_policies()
        q_pi_ref, G_ref = theirs.infer_policies()
        np.testing.assert_allclose(G, G_ref, atol=TOL, rtol=0, err_msg=f"t={t} G")
        np.testing.assert_allclose(q_pi, q_pi_ref, atol=TOL, rtol=0, err_msg=f"t={t} q_pi")
        action_ref = theirs.sample_action()
        action = ours.sample_action()
        for f in range(len(rm.num_controls)):
            if _clear_winner(_marginal_of(q_pi_ref, theirs.policies, rm.num_controls, f)):
                assert action[f] == action_ref[f], f"t={t} factor {f}"
        ours.action = action_ref.copy()  # stay on pymdp's trajectory after near-ties


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), learn=st.booleans(), fast=st.booleans())
def test_cohort_of_agents_matches_one_pymdp_agent_each(seed: int, learn: bool, fast: bool) -> None:
    """A batched cohort: agent n equals a pymdp agent fed agent n's observations."""
    rm = random_model(seed, num_factors=1 if fast else None)
    rng = np.random.default_rng(seed)
    policy_len = _policy_len(rm, rng)
    n_agents = 3
    model = GenerativeModel.create(rm.A, rm.B, rm.C, rm.D, policy_len=policy_len)
    config = CohortConfig(
        dtype="float64",
        efe=LEGACY_EFE,
        learn_A=learn,
        learn_B=learn,
        prior_concentration=2.0,
        fast_path=fast,
    )
    cohort = Cohort(model, n_agents, config)
    single = len(rm.num_states) == 1 and len(rm.num_obs) == 1
    assert (cohort.engine_name == "FusedEngine") == (fast and single and not learn)
    extra = (
        dict(pA=obj_array([2.0 * a for a in rm.A]), pB=obj_array([2.0 * b for b in rm.B]))
        if learn
        else {}
    )
    refs = _pymdp_agents(rm, n_agents, policy_len, **extra)
    for t in range(4):
        obs = np.array([[int(rng.integers(o)) for o in rm.num_obs] for _ in range(n_agents)])
        cohort.step(obs)
        for n, ref in enumerate(refs):
            q_prev = ref.qs
            ref.infer_states(list(obs[n]))
            if learn:
                if t > 0:
                    ref.update_B(q_prev)
                ref.update_A(list(obs[n]))
            q_pi_ref, G_ref = ref.infer_policies()
            _assert_close([q[n] for q in cohort.qs], ref.qs, f"t={t} agent {n} qs")
            np.testing.assert_allclose(cohort.G[n], G_ref, atol=TOL, rtol=0)
            np.testing.assert_allclose(cohort.q_pi[n], q_pi_ref, atol=TOL, rtol=0)
            if learn:
                _assert_close([p[n] for p in cohort.pA], ref.pA, f"t={t} agent {n} pA")
                _assert_close([p[n] for p in cohort.pB], ref.pB, f"t={t} agent {n} pB")
            action_ref = ref.sample_action()
            for f in range(len(rm.num_controls)):
                if _clear_winner(_marginal_of(q_pi_ref, ref.policies, rm.num_controls, f)):
                    assert cohort.actions[n, f] == action_ref[f]
            cohort.actions[n] = action_ref.astype(np.int64)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    dtype=st.sampled_from(["float64", "float32"]),
    learn_B=st.booleans(),
)
def test_fused_learning_cohort_matches_pymdp_agents(seed: int, dtype: str, learn_B: bool) -> None:
    """One factor, each agent learning A (and B): the fused learning kernels against pymdp."""
    rm = random_model(seed, num_factors=1, num_modalities=1)
    rng = np.random.default_rng(seed)
    policy_len = _policy_len(rm, rng)
    n_agents = 3
    model = GenerativeModel.create(rm.A, rm.B, rm.C, rm.D, policy_len=policy_len)
    config = CohortConfig(
        dtype=dtype, efe=LEGACY_EFE, learn_A=True, learn_B=learn_B, prior_concentration=2.0
    )
    cohort = Cohort(model, n_agents, config)
    assert cohort.engine_name == "FusedLearningEngine"
    tol = TOL if dtype == "float64" else 1e-4
    learned = dict(pA=obj_array([2.0 * a for a in rm.A]))
    if learn_B:
        learned["pB"] = obj_array([2.0 * b for b in rm.B])
    refs = _pymdp_agents(rm, n_agents, policy_len, **learned)
    for t in range(5):
        obs = rng.integers(0, rm.num_obs[0], (n_agents, 1))
        cohort.step(obs)
        for n, ref in enumerate(refs):
            q_prev = ref.qs
            ref.infer_states(list(obs[n]))
            if learn_B and t > 0:
                ref.update_B(q_prev)
                np.testing.assert_allclose(cohort.pB[0][n], ref.pB[0], rtol=tol, err_msg=f"t={t}")
            ref.update_A(list(obs[n]))
            q_pi_ref, G_ref = ref.infer_policies()
            np.testing.assert_allclose(cohort.qs[0][n], ref.qs[0], atol=tol, err_msg=f"t={t}")
            np.testing.assert_allclose(cohort.pA[0][n], ref.pA[0], rtol=tol, err_msg=f"t={t}")
            np.testing.assert_allclose(cohort.G[n], G_ref, atol=tol, rtol=tol, err_msg=f"t={t}")
            np.testing.assert_allclose(cohort.q_pi[n], q_pi_ref, atol=tol, err_msg=f"t={t}")
            action_ref = ref.sample_action()
            if _clear_winner(_marginal_of(q_pi_ref, ref.policies, rm.num_controls, 0)):
                if dtype == "float64":
                    assert cohort.actions[n, 0] == action_ref[0]
            cohort.actions[n] = action_ref.astype(np.int64)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_modalities_depending_on_some_factors_match_the_expanded_model(seed: int) -> None:
    """A[m] over a subset of factors equals pymdp 0.0.7.1 on A broadcast to all factors."""
    rm = random_model(seed, with_deps=True)
    rng = np.random.default_rng(seed)
    B_self = [
        rng.dirichlet(np.ones(s), size=(s, u)).transpose(2, 0, 1)
        for s, u in zip(rm.num_states, rm.num_controls, strict=True)
    ]
    model = GenerativeModel.create(rm.A, B_self, rm.C, rm.D, A_deps=rm.A_deps)
    cohort = Cohort(model, 1, CohortConfig(dtype="float64", efe=LEGACY_EFE))
    full_A = expand_A(rm.A, rm.A_deps, rm.num_states)
    ref = pymdp_agent.Agent(
        A=obj_array(full_A), B=obj_array(B_self), C=obj_array(rm.C), D=obj_array(rm.D)
    )
    for t in range(3):
        obs = np.array([[int(rng.integers(o)) for o in rm.num_obs]])
        cohort.step(obs)
        ref.infer_states(list(obs[0]))
        q_pi_ref, G_ref = ref.infer_policies()
        _assert_close([q[0] for q in cohort.qs], ref.qs, f"t={t} qs")
        np.testing.assert_allclose(cohort.G[0], G_ref, atol=TOL, rtol=0)
        np.testing.assert_allclose(cohort.q_pi[0], q_pi_ref, atol=TOL, rtol=0)
        cohort.actions[0] = ref.sample_action().astype(np.int64)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_parameter_information_gain_matches_pymdp_terms(seed: int) -> None:
    """pymdp's Agent fails with pA and use_param_info_gain; its term functions do not."""
    rm = random_model(seed)
    rng = np.random.default_rng(seed)
    policy_len = _policy_len(rm, rng)
    model = GenerativeModel.create(rm.A, rm.B, rm.C, rm.D, policy_len=policy_len)
    pA = [a * rng.uniform(0.5, 4.0) for a in rm.A]
    pB = [b * rng.uniform(0.5, 4.0) for b in rm.B]
    qs = [rng.dirichlet(np.ones(s)) for s in rm.num_states]
    options = EFEOptions(use_utility=False, use_states_info_gain=False, use_param_info_gain=True)
    G = expected_free_energy(
        [q[None] for q in qs],
        model.A,
        model.B,
        model.C,
        model.A_deps,
        model.B_deps,
        model.policies,
        options,
        pA=tuple(pA),
        pB=tuple(pB),
    )[0]
    qs_obj = obj_array(qs)
    for p, policy in enumerate(model.policies):
        qs_pi = pymdp_control.get_expected_states(qs_obj, obj_array(rm.B), policy)
        qo_pi = pymdp_control.get_expected_obs(qs_pi, obj_array(rm.A))
        expected = float(np.squeeze(pymdp_control.calc_pA_info_gain(obj_array(pA), qo_pi, qs_pi)))
        expected += float(
            np.squeeze(pymdp_control.calc_pB_info_gain(obj_array(pB), qs_pi, qs_obj, policy))
        )
        assert G[p] == pytest.approx(expected, abs=TOL)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), sampling=st.sampled_from(["marginal", "full"]))
def test_stochastic_selection_uses_pymdps_distribution(seed: int, sampling: str) -> None:
    rm = random_model(seed)
    rng = np.random.default_rng(seed)
    model = GenerativeModel.create(rm.A, rm.B, rm.C, rm.D, policy_len=_policy_len(rm, rng))
    q_pi = rng.dirichlet(np.ones(model.num_policies))
    alpha = float(rng.choice([1.0, 4.0, 16.0]))
    policies = list(model.policies)
    if sampling == "marginal":
        _, expected = pymdp_control._sample_action_test(
            q_pi, policies, list(model.num_controls), "stochastic", alpha
        )
    else:
        _, expected = pymdp_control._sample_policy_test(
            q_pi, policies, list(model.num_controls), "stochastic", alpha
        )
        expected = [expected]
    ours = action_probabilities(
        q_pi[None], model.policies, model.num_controls, sampling=sampling, alpha=alpha
    )
    _assert_close([p[0] for p in ours], expected, "p(action)")
