"""The array work of a cohort, behind one narrow interface.

A :class:`CohortEngine` turns a cohort's state into new beliefs, learned parameters,
policy scores and actions; the cohort keeps the state and the bookkeeping. Engines:

- :class:`~freeagentics.agents._general.GeneralEngine` — numpy maths from
  :mod:`freeagentics.inference`, any model
  (several factors and modalities, dependencies, per-agent learned parameters);
- :class:`~freeagentics.agents._fused.FusedEngine` — numba kernels for one hidden
  factor with parameters shared by the cohort: no ``(N, S)`` temporaries, one pass
  over agents per stage;
- :class:`~freeagentics.agents._fused.FusedLearningEngine` — the same for one hidden
  factor whose likelihood, transitions or both each agent learns (per-agent ``pA``,
  ``pB``), with or without the parameter information gain; it also runs a whole step
  (posterior, update, policies) in one pass over agents.

Another array library (a GPU one, say) plugs in as another engine implementing the
same methods; callers of :class:`~freeagentics.agents.Cohort` do not change.

Which engine runs a cohort changes its numbers at rounding level, not bit for bit:
the general engine is numpy (log-domain fixed-point sweeps, pairwise sums, BLAS
contractions whose blocking depends on sizes, numpy's own SIMD logarithm), the fused
ones numba (products of likelihoods, sums in a fixed order, the logarithm of
:mod:`~freeagentics.inference._fastmath`); one engine computing the other's operations
would be that engine. The agreement is tested to the tightest bound that holds
(5e-14 in float64, 2e-5 in float32, with the same actions; for G and q_pi, bounds that
grow with the size of G from 10 on, since their rounding does). Within an engine, results
are exact: a fused step equals its stages, serial kernels equal parallel ones, and a
seed gives one trajectory.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from freeagentics.agents._fused import FusedEngine, FusedLearningEngine
from freeagentics.agents._general import GeneralEngine
from freeagentics.agents._state import CohortState, StepResult
from freeagentics.inference._prefix_plan import BLAS_MIN_AGENTS

__all__ = [
    "CohortEngine",
    "FusedEngine",
    "FusedLearningEngine",
    "GeneralEngine",
    "select_engine",
    "smallest_part",
]


class CohortEngine(Protocol):
    def posterior(
        self, cohort: CohortState, obs: np.ndarray
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """``(qs, F)``: per factor ``(N, S_f)`` beliefs and ``(N,)`` free energy after ``obs``."""

    def policies(self, cohort: CohortState) -> tuple[np.ndarray, np.ndarray]:
        """``(G, q_pi)``, each ``(N, P)``, from the cohort's current beliefs."""

    def actions(self, cohort: CohortState, step: int) -> np.ndarray:
        """Controls ``(N, F)`` from ``q_pi`` at plan step ``step``."""

    def learn(self, cohort: CohortState, obs: np.ndarray, previous_actions: np.ndarray) -> None:
        """Dirichlet updates of ``cohort.pA`` / ``pB`` in place, from the latest posterior."""

    def parameters_changed(self, cohort: CohortState) -> None:
        """``cohort.pA`` or ``pB`` were replaced or edited from outside the engine."""

    def step(
        self, cohort: CohortState, obs: np.ndarray, learn: bool, plan: bool
    ) -> StepResult | None:
        """Posterior, update (``learn``) and policies (``plan``) in one call, with the
        numbers the stages give one by one; None where the engine runs them one by one
        (the cohort then calls :meth:`posterior`, :meth:`learn`, :meth:`policies`)."""


def select_engine(cohort: CohortState) -> CohortEngine:
    """A fused engine where the model allows it (and the config does), else the general."""
    m, cfg = cohort.model, cohort.config
    fusable = (
        cfg.fast_path
        and m.num_factors == 1
        and (m.num_modalities == 1 or cfg.efe.info_gain == "factorised")
    )
    if not fusable:
        return GeneralEngine()
    if cfg.learn_A or cfg.learn_B:
        return FusedLearningEngine(cohort)
    return FusedEngine(cohort)


def smallest_part(engine: CohortEngine) -> int:
    """Fewest rows a part of a cohort may hold for the parts, stepped apart, to do the
    arithmetic of the whole row for row (what sharding a population relies on).

    The fused kernels make one pass per row: any part. Policies evaluated through BLAS
    (long horizons) take numba's path below :data:`BLAS_MIN_AGENTS` rows, which sums in
    another order. The general engine's numpy contractions lay out a single row
    differently from a batch (and reduce it in another order).
    """
    if isinstance(engine, GeneralEngine):
        return 2
    plan = getattr(engine, "_plan", None)
    return BLAS_MIN_AGENTS if plan is not None and plan.uses_blas else 1
