"""Cohorts: the fused fast path, population changes, per-agent preferences, planning cadence."""

from __future__ import annotations

import numpy as np
import pytest
from model_factory import random_model

from freeagentics.agents import Cohort, CohortConfig
from freeagentics.errors import ConfigurationError, ObservationError
from freeagentics.models import GenerativeModel
from freeagentics.models.builders import explorer_model, locator_model
from freeagentics.models.process import GenerativeProcess


def _run_pair(model, n, ticks, seed, **config):
    """Step a fast-path and a general-path cohort on the same observations and actions."""
    fast = Cohort(model, n, CohortConfig(dtype="float64", **config))
    slow = Cohort(model, n, CohortConfig(dtype="float64", fast_path=False, **config))
    assert fast.engine_name == "FusedEngine" and slow.engine_name == "GeneralEngine"
    world = GenerativeProcess(model, n, np.random.default_rng(seed))
    for _ in range(ticks):
        obs = world.observe()
        fast.step(obs)
        slow.step(obs)
        yield fast, slow
        slow.actions = fast.actions.copy()  # ties may break differently: share one trajectory
        world.advance(fast.actions)


@pytest.mark.parametrize(
    "make",
    [
        lambda: explorer_model(6),
        lambda: locator_model(5, policy_len=2),
        lambda: explorer_model(5, policy_len=3),  # prefixes share predictions; BLAS
    ],
)
def test_fast_path_equals_general_maths(make):
    for fast, slow in _run_pair(make(), 40, 6, seed=1, gamma=8.0, alpha=8.0):
        np.testing.assert_allclose(fast.qs[0], slow.qs[0], atol=1e-10)
        np.testing.assert_allclose(fast.free_energy, slow.free_energy, atol=1e-9)
        np.testing.assert_allclose(fast.G, slow.G, atol=1e-9)
        np.testing.assert_allclose(fast.q_pi, slow.q_pi, atol=1e-9)


def test_fast_path_with_several_modalities_equals_general_maths():
    rm = random_model(5, num_factors=1, num_modalities=3, max_states=6)
    model = GenerativeModel.create(rm.A, rm.B, rm.C, rm.D, policy_len=2)
    for fast, slow in _run_pair(model, 10, 4, seed=2):
        np.testing.assert_allclose(fast.qs[0], slow.qs[0], atol=1e-10)
        np.testing.assert_allclose(fast.G, slow.G, atol=1e-9)


def test_float32_default_stays_close_to_float64():
    model = explorer_model(6)
    world = GenerativeProcess(model, 30, np.random.default_rng(0))
    c32, c64 = Cohort(model, 30), Cohort(model, 30, CohortConfig(dtype="float64"))
    assert c32.qs[0].dtype == np.float32
    for _ in range(5):
        obs = world.observe()
        c32.step(obs)
        c64.step(obs)
        c32.actions = c64.actions.copy()
        np.testing.assert_allclose(c32.qs[0], c64.qs[0], atol=1e-4)
        np.testing.assert_allclose(c32.q_pi, c64.q_pi, atol=1e-4)
        world.advance(c64.actions)


@pytest.mark.parametrize("fast_path", [True, False])
def test_per_agent_preferences_equal_a_model_with_that_preference(fast_path):
    base = locator_model(4)
    n = 6
    rng = np.random.default_rng(4)
    C = rng.normal(size=(n, 16))
    cohort = Cohort(base, n, CohortConfig(dtype="float64", fast_path=fast_path))
    cohort.set_preferences([C])
    obs = rng.integers(0, 16, (n, 1))
    cohort.step(obs)
    for i in range(n):
        single = Cohort(base.replace(C=[C[i]]), 1, CohortConfig(dtype="float64"))
        single.step(obs[i : i + 1])
        np.testing.assert_allclose(cohort.G[i], single.G[0], atol=1e-9)
    cohort.set_preferences(None)
    assert cohort.C_agents is None
    shared = Cohort(base, n, CohortConfig(dtype="float64", fast_path=fast_path))
    shared.qs = [q.copy() for q in cohort.qs]
    np.testing.assert_allclose(cohort.infer_policies()[1], shared.infer_policies()[1], atol=1e-12)


def test_preferences_steer_behaviour():
    """Agents that know where they are walk to the cell they prefer, three moves away."""
    model = locator_model(4, accuracy=0.999, policy_len=3)
    cohort = Cohort(model, 2, CohortConfig(gamma=16.0))
    C = np.zeros((2, 16))
    C[0, 3], C[1, 12] = 5.0, 5.0  # top-right and bottom-left corners
    cohort.set_preferences([C])
    world = GenerativeProcess(model, 2, np.random.default_rng(0))
    world.states[:] = 5  # both start at row 1, col 1
    for _ in range(8):
        world.advance(cohort.step(world.observe()))
    assert world.states[:, 0].tolist() == [3, 12]


def test_adding_and_removing_agents_keeps_the_others():
    model = explorer_model(5)
    cohort = Cohort(model, 4, CohortConfig(dtype="float64"))
    cohort.step(np.array([[0], [1], [2], [3]]))
    before = [q.copy() for q in cohort.qs]
    rows = cohort.add_agents(2)
    assert rows.tolist() == [4, 5] and cohort.n == 6
    np.testing.assert_allclose(cohort.qs[0][:4], before[0])
    np.testing.assert_allclose(cohort.qs[0][4:], np.broadcast_to(model.D[0], (2, 25)))
    assert (cohort.actions[4:] == -1).all()
    cohort.step(np.zeros((6, 1), int))
    kept = cohort.qs[0][[0, 2, 3, 5]].copy()
    cohort.remove_agents([1, 4])
    assert cohort.n == 4 and cohort.q_pi.shape == (4, model.num_policies)
    np.testing.assert_allclose(cohort.qs[0], kept)
    with pytest.raises(ConfigurationError, match=r"rows must lie in 0\.\.3"):
        cohort.remove_agents([4])


def test_learning_cohort_grows_with_agents():
    model = explorer_model(4)
    cohort = Cohort(model, 3, CohortConfig(learn_A=True))
    cohort.step(np.zeros((3, 1), int))
    cohort.add_agents(2)
    cohort.step(np.ones((5, 1), int))
    assert cohort.pA[0].shape == (5, 5, 16)
    assert Cohort(model, 3).pA is None  # shared parameters stay shared without learning


def test_plan_every_k_steps_reuses_the_policy_posterior():
    model = locator_model(4, policy_len=3)
    cohort = Cohort(model, 5, CohortConfig(plan_every=3))
    obs = np.zeros((5, 1), int)
    cohort.step(obs)
    planned = cohort.q_pi
    cohort.step(obs)
    cohort.step(obs)
    assert cohort.q_pi is planned
    cohort.step(obs)
    assert cohort.q_pi is not planned


def test_following_a_plan_takes_its_later_steps():
    """Between plans the action is the marginal at the plan's current step.

    From cell 5 the only best two-step plan to the goal next door (cell 6) is
    right, then stay; reusing the plan's first step would say right again.
    """
    model = locator_model(4, policy_len=2, goal=6, accuracy=0.99)
    cohort = Cohort(model, 1, CohortConfig(plan_every=2, gamma=64.0))
    cohort.step(np.array([[5]]))
    best = model.policies[np.argmax(cohort.q_pi[0])]
    assert best[:, 0].tolist() == [3, 4] and cohort.q_pi[0].max() > 0.9
    assert cohort.actions[0, 0] == 3
    cohort.step(np.array([[6]]))
    assert cohort.actions[0, 0] == 4


def test_stochastic_cohorts_are_deterministic_under_a_seed():
    model = explorer_model(5)
    runs = []
    for _ in range(2):
        rng = np.random.default_rng(42)
        cohort = Cohort(model, 20, CohortConfig(action_selection="stochastic", alpha=1.0), rng=rng)
        world = GenerativeProcess(model, 20, rng)
        trace = []
        for _ in range(5):
            trace.append(cohort.step(world.observe()).copy())
            world.advance(trace[-1])
        runs.append(np.stack(trace))
    np.testing.assert_array_equal(runs[0], runs[1])


@pytest.mark.parametrize(
    ("obs", "fragment"),
    [
        (np.zeros((3, 2), int), "observations have shape (3, 2), expected (3, 1)"),
        (
            np.array([[0], [5], [1]]),
            "agent 1 observed outcome 5 in modality 0, which has outcomes 0..4",
        ),
        (np.array([[0], [-1], [1]]), "agent 1 observed outcome -1"),
        (np.zeros((3, 1)), "must be integer outcome indices"),
    ],
)
def test_bad_observations_are_rejected_and_beliefs_kept(obs, fragment):
    cohort = Cohort(explorer_model(4), 3)
    cohort.step(np.zeros((3, 1), int))
    before = cohort.qs[0].copy()
    with pytest.raises(ObservationError) as info:
        cohort.step(obs)
    assert fragment in str(info.value)
    np.testing.assert_array_equal(cohort.qs[0], before)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        (dict(dtype="float16"), "dtype must be"),
        (dict(gamma=0.0), "gamma must be a positive"),
        (dict(action_selection="greedy"), "action_selection must be one of"),
        (dict(plan_every=0), "plan_every must be a whole number >= 1, got 0"),
        (dict(num_iter=2.5), "num_iter must be a whole number >= 1, got 2.5"),
        (dict(lr_pA=-1.0), "lr_pA must be"),
        (dict(tie_tolerance=-1e-3), "tie_tolerance must be a finite number >= 0"),
    ],
)
def test_bad_configuration_is_named(kwargs, fragment):
    with pytest.raises(ConfigurationError, match=fragment):
        CohortConfig(**kwargs)


def test_metrics_per_agent():
    model = explorer_model(5)
    cohort = Cohort(model, 8)
    cohort.step(np.zeros((8, 1), int))
    metrics = cohort.metrics()
    assert set(metrics) == {
        "belief_entropy",
        "free_energy",
        "policy_entropy",
        "expected_free_energy",
    }
    for values in metrics.values():
        assert values.shape == (8,) and np.all(np.isfinite(values))
    assert np.all(metrics["belief_entropy"] <= np.log(25) + 1e-5)
    assert np.all(metrics["policy_entropy"] <= np.log(5) + 1e-5)


@pytest.mark.parametrize(("policy_len", "learn_A"), [(1, False), (3, False), (2, True)])
def test_large_cohorts_are_deterministic_whichever_kernels_run(policy_len, learn_A):
    """Above the parallel threshold the serial/parallel choice is made by timing; both
    variants do the same arithmetic, so a seed still fixes the trajectory bit for bit."""
    from freeagentics.inference._kernels import PARALLEL_THRESHOLD

    model = explorer_model(5, policy_len=policy_len)
    n = PARALLEL_THRESHOLD + 100
    runs = []
    for _ in range(2):
        rng = np.random.default_rng(7)
        config = CohortConfig(action_selection="stochastic", alpha=2.0, learn_A=learn_A)
        cohort = Cohort(model, n, config, rng=rng)
        world = GenerativeProcess(model, n, rng)
        for _ in range(8):  # past the trials in which both variants run
            world.advance(cohort.step(world.observe()))
        learned = cohort.pA[0].copy() if learn_A else None
        runs.append((cohort.qs[0].copy(), cohort.q_pi.copy(), world.states.copy(), learned))
    for a, b in zip(runs[0], runs[1], strict=True):
        np.testing.assert_array_equal(a, b)
    assert cohort.engine_name == ("FusedLearningEngine" if learn_A else "FusedEngine")


def test_a_cohort_continues_the_same_whatever_layout_its_learned_parameters_come_in():
    """numpy sums in an order that follows memory layout; a learner's parameters made by
    joining views, or read back from a checkpoint or another process (C order), step
    with the same arithmetic."""
    import pickle

    model = explorer_model(4, policy_len=2)
    config = CohortConfig(learn_A=True, learn_B=True, action_selection="stochastic", alpha=2.0)
    cohort = Cohort(model, 0, config, rng=np.random.default_rng(3))
    cohort.add_agents(6)  # joined from broadcast views
    world = GenerativeProcess(model, 6, np.random.default_rng(4))
    for _ in range(3):
        world.advance(cohort.step(world.observe()))
    copy = Cohort(model, 0, config)
    copy.import_state(pickle.loads(pickle.dumps(cohort.export_state())))
    for _ in range(4):
        obs = world.observe()
        moves = cohort.step(obs)
        assert np.array_equal(moves, copy.step(obs))
        world.advance(moves)
    for name in ("q_pi", "G"):
        np.testing.assert_array_equal(getattr(cohort, name), getattr(copy, name))
    for mine, theirs in zip(cohort.pA + cohort.pB, copy.pA + copy.pB, strict=True):
        np.testing.assert_array_equal(mine, theirs)
