"""The fused engine for learning cohorts (per-agent A, B or both, with or without the
parameter information gain): against the general numpy path, and against itself
(serial and parallel kernels, a pickled copy, a part of the cohort; the fused step
against its stages is in test_fused_step.py).

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
from hypothesis import given, settings
from hypothesis import strategies as st
from model_factory import random_model
from same_cohorts import assert_same_state

from freeagentics.agents import Cohort, CohortConfig
from freeagentics.inference import EFEOptions
from freeagentics.models import GenerativeModel
from freeagentics.models.builders import explorer_model, locator_model
from freeagentics.models.process import GenerativeProcess

#: the largest differences seen on these runs are 1.6e-14 (float64) and 1e-5 (float32),
#: absolute, in q_pi and G where G is at most 10 in size; the bounds leave a factor of
#: about two to five. Rounding grows with G: the bounds of G and q_pi grow with it
#: from 10 on (3-step policies reach 35, the parameter information gain of a sharp
#: likelihood 200)
TOLERANCE = {"float64": 5e-14, "float32": 2e-5}

#: which parameters each agent learns
LEARNING = {
    "A": dict(learn_A=True),
    "B": dict(learn_B=True),
    "AB": dict(learn_A=True, learn_B=True),
}


def _run_both(model, n, ticks, seed, dtype, learning="A", **config):
    """Step a fused and a general cohort learning ``learning`` on one world; each
    chooses its own actions (the world follows the fused one's, the same when the test
    passes)."""
    settings = dict(dtype=dtype, gamma=8.0, alpha=8.0, **LEARNING[learning], **config)
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


def _random_transitions() -> GenerativeModel:
    """8 states, 3 controls with uncertain outcomes, two modalities, 2-step policies."""
    rm = random_model(29, num_factors=1, num_modalities=2, max_states=8, max_obs=5)
    return GenerativeModel.create(rm.A, rm.B, rm.C, rm.D, policy_len=2)


def _assert_close(fused, general, dtype: str) -> None:
    """The bounds of :data:`TOLERANCE`, and one trajectory: each cohort chooses for
    itself, and they choose alike."""
    tol = TOLERANCE[dtype]
    assert fused.qs[0].dtype == np.dtype(dtype)
    np.testing.assert_allclose(fused.qs[0], general.qs[0], atol=tol / 10, rtol=0)
    np.testing.assert_allclose(fused.free_energy, general.free_energy, atol=tol / 2, rtol=0)
    for name in ("pA", "pB"):
        ours, theirs = getattr(fused, name), getattr(general, name)
        assert (ours is None) == (theirs is None), name
        for a, b in zip(ours or (), theirs or (), strict=True):
            assert a.dtype == np.dtype(dtype)
            np.testing.assert_allclose(a, b, rtol=tol / 10, atol=0, err_msg=name)
    scale = max(1.0, float(np.abs(general.G).max(initial=0.0)) / 10)
    np.testing.assert_allclose(fused.G, general.G, atol=tol / 2 * scale, rtol=0)
    np.testing.assert_allclose(fused.q_pi, general.q_pi, atol=tol * scale, rtol=0)
    np.testing.assert_array_equal(fused.actions, general.actions)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("learning", sorted(LEARNING))
@pytest.mark.parametrize(
    "make", [lambda: explorer_model(6), lambda: locator_model(4, policy_len=2)]
)
@pytest.mark.parametrize("seed", [3, 11])
def test_fused_learning_follows_the_general_trajectory(make, learning, dtype, seed):
    for fused, general in _run_both(make(), 40, 16, seed, dtype, learning):
        _assert_close(fused, general, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("learning", sorted(LEARNING))
@pytest.mark.parametrize(
    "make",
    [lambda: explorer_model(6), lambda: explorer_model(4, policy_len=3), _random_transitions],
    ids=["explorer-6", "deep-4", "random-8"],
)
def test_fused_parameter_information_gain_follows_the_general_trajectory(make, learning, dtype):
    """The expected novelty of per-agent A and B, scored in the same pass (the grids'
    moves are certain, and the novelty of a certain move is nil: the random model's
    are not)."""
    efe = EFEOptions(use_param_info_gain=True)
    run = _run_both(make(), 30, 16, 5, dtype, learning, efe=efe)
    for fused, general in run:
        _assert_close(fused, general, dtype)


def test_fused_parameter_information_gain_of_a_sharp_likelihood():
    """The locator's likelihood has entries of 0.007: novelty weights of -150, G of
    -200 (float64; in float32 such a G is 2e-5 from a near-tie of the tie tolerance)."""
    efe = EFEOptions(use_param_info_gain=True)
    model = locator_model(4, policy_len=2)
    run = _run_both(model, 40, 12, 3, "float64", "AB", efe=efe)
    largest = 0.0
    for fused, general in run:
        _assert_close(fused, general, "float64")
        largest = max(largest, float(np.abs(general.G).max()))
    assert largest > 100


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
        (dict(learn_B=True), "FusedLearningEngine"),
        (dict(learn_A=True, learn_B=True), "FusedLearningEngine"),
        (
            dict(learn_A=True, learn_B=True, efe=EFEOptions(use_param_info_gain=True)),
            "FusedLearningEngine",
        ),
        (dict(efe=EFEOptions(use_param_info_gain=True)), "FusedEngine"),
        (dict(learn_A=True, learn_B=True, fast_path=False), "GeneralEngine"),
    ],
)
def test_which_learning_cohorts_are_fused(config, engine):
    assert Cohort(explorer_model(4), 2, CohortConfig(**config)).engine_name == engine


def test_learning_cohorts_the_fused_kernels_do_not_cover_run_the_general_engine():
    """Several factors, or the joint information gain over several modalities."""
    two_factors = random_model(4, num_factors=2, num_modalities=1)
    two_modalities = random_model(4, num_factors=1, num_modalities=2)
    for rm, efe in ((two_factors, EFEOptions()), (two_modalities, EFEOptions(info_gain="joint"))):
        model = GenerativeModel.create(rm.A, rm.B, rm.C, rm.D)
        config = CohortConfig(learn_A=True, learn_B=True, efe=efe)
        assert Cohort(model, 2, config).engine_name == "GeneralEngine"


@pytest.mark.parametrize("learning", sorted(LEARNING))
def test_serial_and_parallel_kernels_give_the_same_trajectory(learning):
    from freeagentics.inference._kernels import KERNELS
    from freeagentics.inference._learner_kernels import LEARNER_KERNELS

    model = explorer_model(6)
    table = {**KERNELS, **LEARNER_KERNELS}
    config = CohortConfig(**LEARNING[learning], efe=EFEOptions(use_param_info_gain=True))
    cohorts = []
    for variant in (0, 1):
        cohort = Cohort(model, 300, config)
        cohort.engine._kernels = lambda name, n, v=variant: table[name][v]
        cohorts.append(cohort)
    world = GenerativeProcess(model, 300, np.random.default_rng(2))
    for _ in range(6):
        obs = world.observe()
        world.advance(cohorts[0].step(obs))
        cohorts[1].step(obs)
        assert_same_state(*cohorts)


@pytest.mark.parametrize("learning", ["A", "AB"])
def test_a_pickled_learning_cohort_continues_the_same_trajectory(learning):
    """A copy sent to another process (pickled) steps exactly as the original."""
    import pickle

    model = explorer_model(5)
    cohort = Cohort(model, 20, CohortConfig(**LEARNING[learning]))
    world = GenerativeProcess(model, 20, np.random.default_rng(9))
    for _ in range(3):
        world.advance(cohort.step(world.observe()))
    copy = pickle.loads(pickle.dumps(cohort))
    for _ in range(4):
        obs = world.observe()
        world.advance(cohort.step(obs))
        copy.step(obs)
        assert_same_state(cohort, copy)


def _edited_transitions(dtype: str, efe: EFEOptions) -> tuple[Cohort, Cohort, GenerativeProcess]:
    """A fused and a general cohort whose agents 0 and 3 were given transitions the
    model rules out (concentrations where B is zero), after a few steps: agent 0 may
    land on the far corner from anywhere, agent 3 anywhere from cell 5 moving down."""
    model = explorer_model(4, policy_len=2)
    settings = dict(dtype=dtype, learn_A=True, learn_B=True, efe=efe, gamma=8.0, alpha=8.0)
    fused = Cohort(model, 8, CohortConfig(**settings))
    general = Cohort(model, 8, CohortConfig(fast_path=False, **settings))
    world = GenerativeProcess(model, 8, np.random.default_rng(6))
    for _ in range(3):
        obs = world.observe()
        general.step(obs)
        world.advance(fused.step(obs))
    for cohort in (fused, general):
        cohort.pB[0][0, 15, :14, :] = 0.5
        cohort.pB[0][3, :, 5, 1] = 0.25  # from cell 5, moving down, anywhere
        cohort.parameters_changed()
    return fused, general, world


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("novelty", [False, True])
def test_concentrations_written_where_the_model_has_none_are_read_and_learned(dtype, novelty):
    """The fused engine reads ``pB`` where any agent's concentrations are nonzero:
    after ``parameters_changed``, entries the model's B rules out are used and learned."""
    fused, general, world = _edited_transitions(dtype, EFEOptions(use_param_info_gain=novelty))
    for _ in range(8):
        obs = world.observe()
        general.step(obs)
        world.advance(fused.step(obs))
        _assert_close(fused, general, dtype)
    assert (fused.pB[0][0, 15, :14, :] > 0.501).any()  # learned off the model's pattern


def test_a_part_of_a_cohort_steps_as_those_rows_of_the_whole():
    """Each part of a sharded cohort reads the nonzero entries of its own agents; those
    of others (zeros for it) change none of its numbers: a part without the edited
    agents steps bit for bit as its rows of the whole."""
    import pickle

    efe = EFEOptions(use_param_info_gain=True)
    whole, _, world = _edited_transitions("float32", efe)
    part = pickle.loads(pickle.dumps(whole))
    part.remove_agents(np.array([0, 3]))
    part.parameters_changed()  # its own agents' entries: the model's pattern
    assert (
        part.engine._transition_pattern(part)[0].size
        < whole.engine._transition_pattern(whole)[0].size
    )
    kept = np.array([1, 2, 4, 5, 6, 7])
    for _ in range(6):
        obs = world.observe()
        world.advance(whole.step(obs))
        part.step(obs[kept])
        for name in ("qs", "pA", "pB"):
            for a, b in zip(getattr(whole, name), getattr(part, name), strict=True):
                np.testing.assert_array_equal(a[kept], b, err_msg=name)
        for name in ("G", "q_pi", "free_energy", "actions"):
            np.testing.assert_array_equal(getattr(whole, name)[kept], getattr(part, name))


def test_agents_added_and_removed_keep_to_the_general_trajectory():
    """The compact copy of ``pB`` follows the cohort's rows as agents come and go, down
    to none."""
    model = explorer_model(5)
    settings = dict(dtype="float64", learn_A=True, learn_B=True, gamma=8.0, alpha=8.0)
    fused = Cohort(model, 6, CohortConfig(**settings))
    general = Cohort(model, 6, CohortConfig(fast_path=False, **settings))
    rng = np.random.default_rng(12)
    changes = {3: 3, 5: [0, 4], 7: list(range(7)), 8: 3, 10: [0]}  # added, or rows removed
    for t in range(12):
        for cohort in (fused, general):
            change = changes.get(t)
            if isinstance(change, int):
                cohort.add_agents(change)
            elif change is not None:
                cohort.remove_agents(np.array(change))
        obs = rng.integers(0, model.num_obs[0], (fused.n, 1))
        fused.step(obs)
        general.step(obs)
        _assert_close(fused, general, "float64")
    assert fused.n == 2


def test_learned_transitions_are_read_from_the_concentrations():
    """``B_agents`` is the normalised ``pB`` after every update; agents learn the move
    they made (counts grow only in the slice of their action)."""
    model = explorer_model(4)
    cohort = Cohort(model, 3, CohortConfig(dtype="float64", learn_B=True))
    assert cohort.engine_name == "FusedLearningEngine"
    obs = np.array([[0], [2], [4]])
    cohort.step(obs)
    np.testing.assert_array_equal(cohort.pB[0], np.broadcast_to(model.B[0], (3, 16, 16, 5)))
    moved = cohort.actions[:, 0].copy()
    cohort.step(obs)
    for n, u in enumerate(moved):
        grown = cohort.pB[0][n] != model.B[0]
        assert grown.any() and np.all(np.nonzero(grown)[2] == u)
    learned = cohort.B_agents[0]
    np.testing.assert_allclose(learned, cohort.pB[0] / cohort.pB[0].sum(1, keepdims=True))
    np.testing.assert_allclose(learned.sum(1), 1.0)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    learning=st.sampled_from(sorted(LEARNING)),
    novelty=st.booleans(),
    lr=st.sampled_from([1.0, 0.3]),
)
def test_fused_learning_matches_the_general_engine_on_random_models(seed, learning, novelty, lr):
    """Small random single-factor models (1-3 modalities, policies of 1-3 steps, sharp
    or flat parameters), float64: the same numbers to rounding; both take the fused
    cohort's actions, which are the general one's wherever the choice is no near-tie."""
    rng = np.random.default_rng(seed)
    rm = random_model(seed, num_factors=1, max_states=5, max_obs=4)
    horizon = int(rng.integers(1, 4 if rm.num_controls[0] <= 2 else 3))
    model = GenerativeModel.create(rm.A, rm.B, rm.C, rm.D, policy_len=horizon)
    n = 5
    settings = dict(
        dtype="float64",
        **LEARNING[learning],
        lr_pA=lr,
        lr_pB=lr,
        prior_concentration=float(rng.choice([0.5, 2.0])),
        efe=EFEOptions(use_param_info_gain=novelty),
    )
    fused = Cohort(model, n, CohortConfig(**settings))
    general = Cohort(model, n, CohortConfig(fast_path=False, **settings))
    assert fused.engine_name == "FusedLearningEngine"
    tol = TOLERANCE["float64"]
    for _ in range(5):
        obs = np.stack([rng.integers(0, o, n) for o in rm.num_obs], axis=1)
        fused.step(obs)
        general.step(obs)
        np.testing.assert_allclose(fused.qs[0], general.qs[0], atol=tol / 10, rtol=0)
        learned = zip(
            (fused.pA or []) + (fused.pB or []),
            (general.pA or []) + (general.pB or []),
            strict=True,
        )
        for a, b in learned:
            np.testing.assert_allclose(a, b, rtol=tol / 10, atol=0)
        scale = max(1.0, float(np.abs(general.G).max(initial=0.0)) / 10)
        np.testing.assert_allclose(fused.G, general.G, atol=tol / 2 * scale, rtol=0)
        np.testing.assert_allclose(fused.q_pi, general.q_pi, atol=tol * scale, rtol=0)
        # a control whose mass is within rounding of the tie tolerance may go either way
        first = np.eye(rm.num_controls[0])[model.policies[:, 0, 0]]  # (P, U)
        mass = general.q_pi @ first
        gap = mass.max(axis=1, keepdims=True) - mass - general.config.ties
        clear = (np.abs(gap) > 1e-10).all(axis=1)
        same = (fused.actions == general.actions).all(axis=1)
        assert same[clear].all()
        general.actions = fused.actions.copy()
