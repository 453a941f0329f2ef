"""Engines of fused numba kernels for single-factor cohorts.

:class:`FusedEngine` — A and B shared by the cohort; :class:`FusedLearningEngine` —
each agent learns its own A (Dirichlet ``pA``), its own B (``pB``), or both. Both keep
scratch buffers between ticks (fresh large arrays each tick would cost page faults),
precompute what the model fixes (the sparse transitions, the tree of policy prefixes,
which entries of a learned B can be nonzero). The learning
engine runs a whole step in one pass over agents (:meth:`step`), with the numbers of
its stages run one by one.
"""

from __future__ import annotations

import weakref

import numpy as np

from freeagentics.agents._general import general_actions
from freeagentics.agents._state import CohortState, StepResult
from freeagentics.inference._kernels import (
    KERNELS,
    KernelSet,
    column_transitions,
    scoring_terms,
    sparse_transitions,
)
from freeagentics.inference._learner_kernels import LEARN, LEARNER_KERNELS, POLICIES, POSTERIOR
from freeagentics.inference._prefix_plan import PrefixPlan, PrefixTree
from freeagentics.inference._transition_pattern import (
    entries_of,
    pattern_of_concentrations,
    transition_pattern,
)

__all__ = ["FusedEngine", "FusedLearningEngine"]


class _FusedBase:
    """What both fused engines share: B by columns, observation offsets, the action kernel."""

    def __init__(self, cohort: CohortState, kernels: KernelSet):
        m = cohort.model
        self._columns = column_transitions(cohort.B[0], cohort.dtype)
        self._obs_offsets = np.cumsum([0, *m.num_obs]).astype(np.int64)
        self._spare: np.ndarray | None = None
        self._gamma = np.empty(0, cohort.dtype)
        self._kernels = kernels

    def _next_beliefs(self, cohort: CohortState) -> tuple[np.ndarray, np.ndarray]:
        """An output buffer for new beliefs: the previous tick's beliefs are scratch now
        (double buffering); and the ``(N,)`` free energy."""
        current = cohort.qs[0]
        spare = self._spare
        qs = spare if spare is not None and spare.shape == current.shape else np.empty_like(current)
        self._spare = current
        return qs, np.empty(cohort.n, cohort.dtype)

    def _gammas(self, cohort: CohortState) -> np.ndarray:
        if self._gamma.shape[0] != cohort.n:
            self._gamma = np.full(cohort.n, cohort.config.gamma, cohort.dtype)
        return self._gamma

    def actions(self, cohort: CohortState, step: int) -> np.ndarray:
        cfg = cohort.config
        if cfg.action_selection != "deterministic" or cfg.sampling != "marginal":
            return general_actions(cohort, step)
        actions = np.empty((cohort.n, 1), np.int64)
        self._kernels("marginal_argmax", cohort.n)(
            cohort.q_pi,
            cohort.model.policies[:, step, 0],
            cohort.model.num_controls[0],
            cfg.ties,
            actions[:, 0],
        )
        return actions


class FusedEngine(_FusedBase):
    """One hidden factor, A and B shared by the cohort: fused numba kernels.

    Policies go through a :class:`PrefixPlan`: every distinct action prefix's
    predictions composed once per cohort.
    """

    def __init__(self, cohort: CohortState):
        super().__init__(cohort, KernelSet())
        self._A_rows = np.ascontiguousarray(np.concatenate(cohort.A, axis=0))
        self._plan = PrefixPlan(cohort.A, cohort.B[0], cohort.model.policies, cohort.dtype)
        self._workspace: dict[str, np.ndarray] = {}

    def posterior(
        self, cohort: CohortState, obs: np.ndarray
    ) -> tuple[list[np.ndarray], np.ndarray]:
        qs, free_energy = self._next_beliefs(cohort)
        self._kernels("single_factor_posterior", cohort.n)(
            cohort.qs[0],
            cohort.actions[:, 0],
            cohort.D[0],
            *self._columns,
            self._A_rows,
            obs + self._obs_offsets[:-1],
            qs,
            free_energy,
        )
        return [qs], free_energy

    def step(self, cohort: CohortState, obs: np.ndarray, learn: bool, plan: bool) -> None:
        """Stage by stage: fused with the posterior, the policy products ran slower
        (measured on explorer-10) than in a pass of their own."""
        return None

    def policies(self, cohort: CohortState) -> tuple[np.ndarray, np.ndarray]:
        cfg = cohort.config
        G, q_pi = _policy_outputs(cohort)
        self._plan.evaluate(
            cohort.qs[0],
            cohort.flat_scores() if cfg.efe.use_utility else None,
            cfg.efe.use_states_info_gain,
            self._gammas(cohort),
            cohort.log_E,
            G,
            q_pi,
            self._workspace,
            self._kernels,
        )
        return G, q_pi

    def learn(self, cohort: CohortState, obs: np.ndarray, previous_actions: np.ndarray) -> None:
        """Nothing to learn: this engine only runs cohorts with shared parameters."""

    def parameters_changed(self, cohort: CohortState) -> None:
        """Nothing to forget: this engine only runs cohorts with shared parameters."""


class FusedLearningEngine(_FusedBase):
    """One hidden factor, each agent learning its own A, its own B, or both.

    Reads the concentrations ``cohort.pA`` and ``cohort.pB`` directly (the normalised
    per-agent A and B are never stored) and updates them in place; keeps nothing per
    agent besides scratch and, with per-agent B, a compact copy of ``pB`` at the
    entries where the model's B or some agent's concentrations are not zero
    (:mod:`~freeagentics.inference._transition_pattern`): ``(N, E)``, read instead of
    the dense ``(N, S, S, U)`` (updates go to both). The copy is taken again when the
    cohort's ``pB`` is another array (agents added or removed) and, with the entries,
    when :meth:`parameters_changed` says ``pB`` was written from outside.
    """

    def __init__(self, cohort: CohortState):
        super().__init__(cohort, KernelSet({**KERNELS, **LEARNER_KERNELS}))
        self._tree = PrefixTree(cohort.model.policies)
        self._steps = np.ascontiguousarray(self._tree.steps.T)  # (T, P)
        self._transitions = sparse_transitions(cohort.B[0], cohort.dtype)
        self._per_prefix = np.empty((0, self._tree.size), cohort.dtype)
        self._pattern: tuple[np.ndarray, ...] | None = None
        self._entries: np.ndarray | None = None  # (N, E) pB at the pattern's entries
        self._entries_of: weakref.ref | None = None  # the pB they were taken from

    def __getstate__(self) -> dict:
        # the compact copy is taken again from the pickled pB (a weak reference would
        # not pickle)
        return {**self.__dict__, "_entries": None, "_entries_of": None}

    def parameters_changed(self, cohort: CohortState) -> None:
        """``pB`` was replaced or edited: its pattern of nonzero entries and the compact
        copy are taken anew (a pass over it) before the next step."""
        self._pattern = None
        self._entries = self._entries_of = None

    def _compact_transitions(self, cohort: CohortState) -> np.ndarray:
        """``(N, E)``: the compact copy of ``cohort.pB[0]``, taken again if that array
        is not the one it was taken from."""
        dense = cohort.pB[0]
        if self._entries is None or self._entries_of is None or self._entries_of() is not dense:
            self._entries = entries_of(dense, self._transition_pattern(cohort)[0])
            self._entries_of = weakref.ref(dense)
        return self._entries

    def _transition_pattern(self, cohort: CohortState) -> tuple[np.ndarray, ...]:
        if self._pattern is None:
            pB = cohort.pB[0] if cohort.pB is not None else None
            self._pattern = transition_pattern(pattern_of_concentrations(cohort.B[0], pB))
        return self._pattern

    # ------------------------------------------------------------------ stages
    def posterior(
        self, cohort: CohortState, obs: np.ndarray
    ) -> tuple[list[np.ndarray], np.ndarray]:
        qs, free_energy = self._next_beliefs(cohort)
        self._run(cohort, POSTERIOR, obs, qs, free_energy, None, None)
        return [qs], free_energy

    def learn(self, cohort: CohortState, obs: np.ndarray, previous_actions: np.ndarray) -> None:
        """The update from the latest posterior; B's from the beliefs before it
        (``cohort.qs_before``: nothing to learn of B while there are none) and
        ``previous_actions``."""
        before = cohort.qs_before
        start = (
            np.ascontiguousarray((cohort.qs if before is None else before)[0]),
            previous_actions,
        )
        qs = np.ascontiguousarray(cohort.qs[0])
        self._run(cohort, LEARN, obs, qs, None, None, None, start, learn_B=before is not None)

    def policies(self, cohort: CohortState) -> tuple[np.ndarray, np.ndarray]:
        G, q_pi = _policy_outputs(cohort)
        self._run(cohort, POLICIES, None, np.ascontiguousarray(cohort.qs[0]), None, G, q_pi)
        return G, q_pi

    def step(self, cohort: CohortState, obs: np.ndarray, learn: bool, plan: bool) -> StepResult:
        """Posterior, then the update (``learn``), then policies (``plan``), in one pass
        over agents; the same numbers as the stages called one by one."""
        qs, free_energy = self._next_beliefs(cohort)
        G, q_pi = _policy_outputs(cohort) if plan else (None, None)
        stages = POSTERIOR | (LEARN if learn else 0) | (POLICIES if plan else 0)
        self._run(cohort, stages, obs, qs, free_energy, G, q_pi)
        return StepResult([qs], free_energy, G, q_pi)

    def _run(self, cohort, stages, obs, qs, free_energy, G, q_pi, start=None, learn_B=True) -> None:
        """One call of the step kernel; arrays a stage does not touch are placeholders.

        ``start``: the beliefs ``(N, S)`` and actions ``(N, F)`` the posterior starts
        from and B is learned from (default: the cohort's); ``learn_B`` False keeps B
        out of a LEARN-only call.
        """
        cfg, m, n, dt = cohort.config, cohort.model, cohort.n, cohort.dtype
        if self._per_prefix.shape[0] != n:
            self._per_prefix = np.empty((n, self._tree.size), dt)
        empty_rows = np.empty((n, 0), dt)
        scoring = scoring_terms(
            int(self._obs_offsets[-1]) + m.num_modalities,
            self._obs_offsets,
            cohort.flat_scores(),
            cfg.efe.use_utility,
            cfg.efe.use_states_info_gain,
            self._steps,
            self._gammas(cohort),
            cohort.log_E,
        )
        qs_prev, actions = (cohort.qs[0], cohort.actions) if start is None else start
        # None: shared (A used as given, B's precomputed columns), or no novelty scored
        pB, dense = None, empty_rows
        if cfg.learn_B and learn_B:
            pB = self._compact_transitions(cohort)
            dense = cohort.pB[0].reshape(n, int(np.prod(cohort.pB[0].shape[1:])))
        self._kernels("learner_step", n)(
            stages,
            qs_prev,
            actions[:, 0],
            cohort.D[0],
            *self._columns,
            self._transitions,
            tuple(cohort.pA) if cfg.learn_A else tuple(a[None] for a in cohort.A),
            dt(cfg.lr_pA) if cfg.learn_A else None,
            pB,
            dense,
            dt(cfg.lr_pB),
            self._transition_pattern(cohort),
            True if cfg.efe.use_param_info_gain else None,
            obs if obs is not None else np.zeros((n, m.num_modalities), np.int64),
            self._obs_offsets,
            self._tree.parent,
            self._tree.action,
            scoring,
            self._per_prefix,
            qs,
            free_energy if free_energy is not None else np.empty(n, dt),
            G if G is not None else empty_rows,
            q_pi if q_pi is not None else empty_rows,
        )


def _policy_outputs(cohort: CohortState) -> tuple[np.ndarray, np.ndarray]:
    """Fresh ``(N, P)`` G and q_pi: callers may still hold the previous ones."""
    shape = (cohort.n, cohort.model.num_policies)
    return np.empty(shape, cohort.dtype), np.empty(shape, cohort.dtype)
