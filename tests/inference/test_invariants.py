"""Invariants of the batched maths for any valid model (hypothesis).

Every belief and policy posterior is a distribution with no NaN, and a batched call
gives, row for row, what calls for one agent at a time give.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from model_factory import random_model

from freeagentics import inference as fi
from freeagentics.models import GenerativeModel

SEEDS = st.integers(0, 2**31 - 1)


def _setup(seed: int, n: int, with_deps: bool):
    rm = random_model(seed, with_deps=with_deps)
    policy_len = 2 if int(np.prod(rm.num_controls)) ** 2 <= 36 else 1
    model = GenerativeModel.create(
        rm.A, rm.B, rm.C, rm.D, policy_len=policy_len, A_deps=rm.A_deps, B_deps=rm.B_deps
    )
    rng = np.random.default_rng(seed)
    obs = np.stack([rng.integers(0, o, n) for o in model.num_obs], axis=1)
    qs_prev = [rng.dirichlet(np.ones(s), n) for s in model.num_states]
    actions = np.stack([rng.integers(0, u, n) for u in model.num_controls], axis=1)
    return model, rng, obs, qs_prev, actions


def _step(model, obs, qs_prev, actions, info_gain):
    prior = fi.empirical_prior(qs_prev, model.B, model.B_deps, actions)
    log_lik = fi.joint_log_likelihood(model.A, model.A_deps, model.num_states, obs)
    qs, F = fi.infer_states(log_lik, prior)
    G = fi.expected_free_energy(
        qs,
        model.A,
        model.B,
        model.C,
        model.A_deps,
        model.B_deps,
        model.policies,
        fi.EFEOptions(info_gain=info_gain),
    )
    q_pi = fi.policy_posterior(G, 4.0, fi.log_stable(model.E))
    return prior, qs, F, G, q_pi


def _is_distribution(p: np.ndarray) -> bool:
    return bool(
        np.all(np.isfinite(p)) and np.all(p >= 0) and np.allclose(p.sum(-1), 1.0, atol=1e-9)
    )


@settings(max_examples=60, deadline=None)
@given(seed=SEEDS, with_deps=st.booleans(), info_gain=st.sampled_from(["factorised", "joint"]))
def test_beliefs_and_policy_posteriors_are_distributions(seed, with_deps, info_gain):
    model, _, obs, qs_prev, actions = _setup(seed, 7, with_deps)
    prior, qs, F, G, q_pi = _step(model, obs, qs_prev, actions, info_gain)
    assert all(_is_distribution(p) for p in prior)
    assert all(_is_distribution(q) for q in qs)
    assert _is_distribution(q_pi)
    assert np.all(np.isfinite(F)) and np.all(np.isfinite(G))
    assert G.shape == (7, model.num_policies) and q_pi.shape == G.shape
    assert all(q.shape == (7, s) for q, s in zip(qs, model.num_states, strict=True))


@settings(max_examples=40, deadline=None)
@given(seed=SEEDS, with_deps=st.booleans(), info_gain=st.sampled_from(["factorised", "joint"]))
def test_batched_results_equal_one_agent_at_a_time(seed, with_deps, info_gain):
    n = 5
    model, _, obs, qs_prev, actions = _setup(seed, n, with_deps)
    batched = _step(model, obs, qs_prev, actions, info_gain)
    for i in range(n):
        single = _step(
            model, obs[i : i + 1], [q[i : i + 1] for q in qs_prev], actions[i : i + 1], info_gain
        )
        for b, s in zip(batched[0], single[0], strict=True):
            np.testing.assert_allclose(b[i], s[0], atol=1e-12)
        for b, s in zip(batched[1], single[1], strict=True):
            np.testing.assert_allclose(b[i], s[0], atol=1e-12)
        for k in (2, 3, 4):
            np.testing.assert_allclose(batched[k][i], single[k][0], atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(seed=SEEDS)
def test_learning_keeps_parameters_normalised_and_only_grows_concentrations(seed):
    model, rng, obs, qs, actions = _setup(seed, 4, with_deps=True)
    pA = [np.broadcast_to(a * 2.0, (4, *a.shape)).copy() for a in model.A]
    pB = [np.broadcast_to(b * 2.0, (4, *b.shape)).copy() for b in model.B]
    before_A, before_B = [p.copy() for p in pA], [p.copy() for p in pB]
    qs_next = [rng.dirichlet(np.ones(s), 4) for s in model.num_states]
    fi.update_pA(pA, model.A_deps, obs, qs_next, lr=0.5)
    fi.update_pB(pB, model.B_deps, actions, qs_next, qs, lr=0.5)
    for new, old in zip(pA + pB, before_A + before_B, strict=True):
        assert np.all(new >= old)
        assert np.all((new > old) <= (old > 0))  # structural zeros stay zero
        np.testing.assert_allclose(fi.normalise(new).sum(axis=1), 1.0)
    # total added mass: lr per agent and modality (one observation's worth)
    for new, old in zip(pA, before_A, strict=True):
        np.testing.assert_allclose((new - old).reshape(4, -1).sum(1), 0.5, rtol=1e-9)


@settings(max_examples=40, deadline=None)
@given(seed=SEEDS, alpha=st.floats(0.5, 32.0))
def test_stochastic_actions_follow_their_distribution(seed, alpha):
    model, rng, *_ = _setup(seed, 1, with_deps=False)
    q_pi = rng.dirichlet(np.ones(model.num_policies), 4000)
    q_pi[:] = q_pi[0]  # same posterior for every agent: draws are iid samples
    probs = fi.action_probabilities(q_pi[:1], model.policies, model.num_controls, alpha=alpha)
    actions = fi.select_actions(
        q_pi,
        model.policies,
        model.num_controls,
        selection="stochastic",
        alpha=alpha,
        rng=np.random.default_rng(seed),
    )
    for f, p in enumerate(probs):
        freq = np.bincount(actions[:, f], minlength=p.shape[1]) / len(actions)
        # 5 standard errors of a binomial proportion
        assert np.all(np.abs(freq - p[0]) <= 5 * np.sqrt(p[0] * (1 - p[0]) / len(actions)) + 1e-3)


def test_same_generator_seed_gives_same_draws():
    model, *_ = _setup(3, 1, with_deps=False)
    q_pi = np.full((50, model.num_policies), 1.0 / model.num_policies)
    draw = [
        fi.select_actions(
            q_pi,
            model.policies,
            model.num_controls,
            selection="stochastic",
            rng=np.random.default_rng(11),
        )
        for _ in range(2)
    ]
    np.testing.assert_array_equal(draw[0], draw[1])


def test_single_factor_posterior_by_hand():
    A = np.array([[0.9, 0.2], [0.1, 0.8]])
    prior = np.array([[0.3, 0.7]])
    log_lik = fi.joint_log_likelihood((A,), ((0,),), (2,), np.array([[0]]))
    (qs,), F = fi.infer_states(log_lik, [prior])
    expected = np.array([0.9 * 0.3, 0.2 * 0.7]) / (0.9 * 0.3 + 0.2 * 0.7)
    np.testing.assert_allclose(qs[0], expected, atol=1e-12)
    np.testing.assert_allclose(F[0], -np.log(0.9 * 0.3 + 0.2 * 0.7), atol=1e-12)


def test_deterministic_ties_go_to_the_lowest_choice_within_the_tolerance():
    policies = np.array([[[0]], [[1]], [[2]]])
    q_pi = np.array([[0.2, 0.40004, 0.39996], [0.5, 0.2, 0.3]])
    plain = fi.select_actions(q_pi, policies, (3,))
    assert plain[:, 0].tolist() == [1, 0]
    tied = fi.select_actions(q_pi, policies, (3,), tie_tolerance=1e-4)
    assert tied[:, 0].tolist() == [1, 0]
    q_pi[0, 1:] = [0.39996, 0.40004]  # the larger now comes second: still a tie
    assert fi.select_actions(q_pi, policies, (3,), tie_tolerance=1e-4)[0, 0] == 1
    assert fi.select_actions(q_pi, policies, (3,))[0, 0] == 2
    full = fi.select_actions(q_pi, policies, (3,), sampling="full", tie_tolerance=1e-4)
    assert full[0, 0] == 1
