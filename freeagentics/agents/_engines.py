"""The array work of a cohort, behind one narrow interface.

A :class:`CohortEngine` turns a cohort's state into new beliefs, policy scores and
actions; the cohort keeps the state and the bookkeeping. Two engines exist:

- :class:`GeneralEngine` — numpy maths from :mod:`freeagentics.inference`, any model
  (several factors and modalities, dependencies, per-agent learned parameters);
- :class:`FusedEngine` — numba kernels for one hidden factor with parameters shared by
  the cohort: no ``(N, S)`` temporaries, one pass over agents per stage.

Another array library (a GPU one, say) plugs in as a third engine implementing the
same three methods; callers of :class:`~freeagentics.agents.Cohort` do not change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

from freeagentics.inference import (
    empirical_prior,
    expected_free_energy,
    infer_states,
    joint_log_likelihood,
    policy_posterior,
    select_actions,
)
from freeagentics.inference._kernels import KernelSet, sparse_transitions
from freeagentics.inference._prefix_plan import PrefixPlan

if TYPE_CHECKING:
    from freeagentics.agents.cohort import Cohort

__all__ = ["CohortEngine", "FusedEngine", "GeneralEngine", "select_engine"]


class CohortEngine(Protocol):
    def posterior(self, cohort: Cohort, obs: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """``(qs, F)``: per factor ``(N, S_f)`` beliefs and ``(N,)`` free energy after ``obs``."""

    def policies(self, cohort: Cohort) -> tuple[np.ndarray, np.ndarray]:
        """``(G, q_pi)``, each ``(N, P)``, from the cohort's current beliefs."""

    def actions(self, cohort: Cohort, step: int) -> np.ndarray:
        """Controls ``(N, F)`` from ``q_pi`` at plan step ``step``."""


def select_engine(cohort: Cohort) -> CohortEngine:
    """The fused engine where the model allows it (and the config does), else the general."""
    m, cfg = cohort.model, cohort.config
    fused = (
        cfg.fast_path
        and m.num_factors == 1
        and not cfg.learn_A
        and not cfg.learn_B
        and (m.num_modalities == 1 or cfg.efe.info_gain == "factorised")
    )
    return FusedEngine(cohort) if fused else GeneralEngine()


class GeneralEngine:
    """Any model, with numpy; per-agent parameters where the cohort has them."""

    def posterior(self, cohort: Cohort, obs: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        A, A_batched = cohort.likelihoods()
        log_lik = joint_log_likelihood(
            A, cohort.model.A_deps, cohort.model.num_states, obs, A_batched
        )
        return infer_states(
            log_lik, self._prior(cohort), cohort.config.num_iter, cohort.config.tolerance
        )

    @staticmethod
    def _prior(cohort: Cohort) -> list[np.ndarray]:
        """Per factor ``(N, S_f)``: D before an agent's first action, else B·qs."""
        started = cohort.actions[:, 0] >= 0
        prior = [np.broadcast_to(d, (cohort.n, d.size)).copy() for d in cohort.D]
        if started.any():
            B, B_batched = cohort.transitions()
            if B_batched:
                B = tuple(b[started] for b in B)
            predicted = empirical_prior(
                [q[started] for q in cohort.qs],
                B,
                cohort.model.B_deps,
                cohort.actions[started],
                B_batched,
            )
            for f, p in enumerate(predicted):
                prior[f][started] = p
        return prior

    def policies(self, cohort: Cohort) -> tuple[np.ndarray, np.ndarray]:
        m, cfg = cohort.model, cohort.config
        A, A_batched = cohort.likelihoods()
        B, B_batched = cohort.transitions()
        C, C_batched = cohort.preferences()
        G = expected_free_energy(
            cohort.qs,
            A,
            B,
            C,
            m.A_deps,
            m.B_deps,
            m.policies,
            cfg.efe,
            A_batched=A_batched,
            B_batched=B_batched,
            C_batched=C_batched,
            pA=cohort.pA,
            pB=cohort.pB,
        )
        return G, policy_posterior(G, cfg.gamma, cohort.log_E)

    def actions(self, cohort: Cohort, step: int) -> np.ndarray:
        cfg = cohort.config
        return select_actions(
            cohort.q_pi,
            cohort.model.policies,
            cohort.model.num_controls,
            selection=cfg.action_selection,
            sampling=cfg.sampling,
            alpha=cfg.alpha,
            rng=cohort.rng,
            step=step,
        )


class FusedEngine:
    """One hidden factor, A and B shared by the cohort: fused numba kernels.

    Precomputes the sparse transitions, the stacked likelihood rows and the policy
    prefix plan once; keeps scratch buffers between ticks (fresh large arrays each
    tick would cost page faults).
    """

    def __init__(self, cohort: Cohort):
        m = cohort.model
        self._csr = sparse_transitions(cohort.B[0], cohort.dtype)
        self._A_rows = np.ascontiguousarray(np.concatenate(cohort.A, axis=0))
        self._obs_offsets = np.cumsum([0, *m.num_obs[:-1]]).astype(np.int64)
        self._plan = PrefixPlan(cohort.A, cohort.B[0], m.policies, cohort.dtype)
        self._spare: np.ndarray | None = None
        self._gamma = np.empty(0, cohort.dtype)
        self._workspace: dict[str, np.ndarray] = {}
        self._generic = GeneralEngine()
        self._kernels = KernelSet()

    def posterior(self, cohort: Cohort, obs: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        current = cohort.qs[0]
        spare = self._spare
        qs = spare if spare is not None and spare.shape == current.shape else np.empty_like(current)
        self._spare = current  # double buffer: the cohort's previous beliefs become scratch
        free_energy = np.empty(cohort.n, cohort.dtype)
        self._kernels("single_factor_posterior", cohort.n)(
            current,
            cohort.actions[:, 0],
            cohort.D[0],
            *self._csr,
            self._A_rows,
            obs + self._obs_offsets,
            qs,
            free_energy,
        )
        return [qs], free_energy

    def policies(self, cohort: Cohort) -> tuple[np.ndarray, np.ndarray]:
        cfg = cohort.config
        shape = (cohort.n, cohort.model.num_policies)
        # fresh outputs: callers may still hold the previous G and q_pi
        G, q_pi = np.empty(shape, cohort.dtype), np.empty(shape, cohort.dtype)
        if self._gamma.shape[0] != cohort.n:
            self._gamma = np.full(cohort.n, cfg.gamma, cohort.dtype)
        self._plan.evaluate(
            cohort.qs[0],
            cohort.flat_scores() if cfg.efe.use_utility else None,
            cfg.efe.use_states_info_gain,
            self._gamma,
            cohort.log_E,
            G,
            q_pi,
            self._workspace,
            self._kernels,
        )
        return G, q_pi

    def actions(self, cohort: Cohort, step: int) -> np.ndarray:
        cfg = cohort.config
        if cfg.action_selection != "deterministic" or cfg.sampling != "marginal":
            return self._generic.actions(cohort, step)
        actions = np.empty((cohort.n, 1), np.int64)
        self._kernels("marginal_argmax", cohort.n)(
            cohort.q_pi,
            cohort.model.policies[:, step, 0],
            cohort.model.num_controls[0],
            actions[:, 0],
        )
        return actions
