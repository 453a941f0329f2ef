"""Engines of fused numba kernels for single-factor cohorts.

:class:`FusedEngine` — A and B shared by the cohort; :class:`FusedLearningEngine` —
each agent learns its own A (Dirichlet ``pA``), B shared. Both keep scratch buffers
between ticks (fresh large arrays each tick would cost page faults) and precompute
what the model fixes: the sparse transitions and the tree of policy prefixes.
"""

from __future__ import annotations

import numpy as np

from freeagentics.agents._general import general_actions
from freeagentics.agents._state import CohortState
from freeagentics.inference._kernels import KERNELS, KernelSet, scoring_terms, sparse_transitions
from freeagentics.inference._learner_kernels import LEARNER_KERNELS
from freeagentics.inference._prefix_plan import PrefixPlan, PrefixTree

__all__ = ["FusedEngine", "FusedLearningEngine"]


class _FusedBase:
    """What both fused engines share: sparse B, observation offsets, the action kernel."""

    def __init__(self, cohort: CohortState, kernels: KernelSet):
        m = cohort.model
        self._csr = sparse_transitions(cohort.B[0], cohort.dtype)
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
            *self._csr,
            self._A_rows,
            obs + self._obs_offsets[:-1],
            qs,
            free_energy,
        )
        return [qs], free_energy

    def policies(self, cohort: CohortState) -> tuple[np.ndarray, np.ndarray]:
        cfg = cohort.config
        shape = (cohort.n, cohort.model.num_policies)
        # fresh outputs: callers may still hold the previous G and q_pi
        G, q_pi = np.empty(shape, cohort.dtype), np.empty(shape, cohort.dtype)
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


class FusedLearningEngine(_FusedBase):
    """One hidden factor, each agent learning its own A; B shared.

    Reads the concentrations ``cohort.pA`` directly (the normalised per-agent A is
    never stored) and updates them in place.
    """

    def __init__(self, cohort: CohortState):
        super().__init__(cohort, KernelSet({**KERNELS, **LEARNER_KERNELS}))
        self._tree = PrefixTree(cohort.model.policies)
        self._per_prefix = np.empty((0, self._tree.size), cohort.dtype)

    def posterior(
        self, cohort: CohortState, obs: np.ndarray
    ) -> tuple[list[np.ndarray], np.ndarray]:
        qs, free_energy = self._next_beliefs(cohort)
        self._kernels("learner_posterior", cohort.n)(
            cohort.qs[0],
            cohort.actions[:, 0],
            cohort.D[0],
            *self._csr,
            tuple(cohort.pA),
            obs,
            qs,
            free_energy,
        )
        return [qs], free_energy

    def learn(self, cohort: CohortState, obs: np.ndarray, previous_actions: np.ndarray) -> None:
        lr = cohort.dtype(cohort.config.lr_pA)
        update = self._kernels("learn_likelihood", cohort.n)
        for m, p in enumerate(cohort.pA):
            update(p, np.ascontiguousarray(obs[:, m]), cohort.qs[0], lr)

    def policies(self, cohort: CohortState) -> tuple[np.ndarray, np.ndarray]:
        cfg = cohort.config
        n = cohort.n
        shape = (n, cohort.model.num_policies)
        G, q_pi = np.empty(shape, cohort.dtype), np.empty(shape, cohort.dtype)
        if self._per_prefix.shape[0] != n:
            self._per_prefix = np.empty((n, self._tree.size), cohort.dtype)
        scores = cohort.flat_scores()
        scoring = scoring_terms(
            int(self._obs_offsets[-1]) + cohort.model.num_modalities,
            self._obs_offsets,
            scores,
            cfg.efe.use_utility,
            cfg.efe.use_states_info_gain,
            self._tree.steps,
            self._gammas(cohort),
            cohort.log_E,
        )
        self._kernels("learner_policy_scores", n)(
            np.ascontiguousarray(cohort.qs[0]),
            tuple(cohort.pA),
            self._obs_offsets,
            *self._csr,
            self._tree.parent,
            self._tree.action,
            scoring,
            self._per_prefix,
            G,
            q_pi,
        )
        return G, q_pi
