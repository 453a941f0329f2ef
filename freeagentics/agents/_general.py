"""The general engine: numpy maths from :mod:`freeagentics.inference` for any model.

Several factors and modalities, dependencies, per-agent learned A and B, every
option of :class:`~freeagentics.agents.CohortConfig`. The fused engines fall back
to :func:`general_actions` for the action-selection modes they do not fuse.
"""

from __future__ import annotations

import numpy as np

from freeagentics.agents._state import CohortState
from freeagentics.inference import (
    empirical_prior,
    expected_free_energy,
    infer_states,
    joint_log_likelihood,
    policy_posterior,
    select_actions,
    update_pA,
    update_pB,
)

__all__ = ["GeneralEngine", "general_actions"]


class GeneralEngine:
    """Any model, with numpy; per-agent parameters where the cohort has them."""

    def step(self, cohort: CohortState, obs: np.ndarray, learn: bool, plan: bool) -> None:
        """Stage by stage (see :meth:`CohortEngine.step`)."""

    def parameters_changed(self, cohort: CohortState) -> None:
        """Nothing derived from the concentrations is kept: the cohort normalises them."""

    def posterior(
        self, cohort: CohortState, obs: np.ndarray
    ) -> tuple[list[np.ndarray], np.ndarray]:
        A, A_batched = cohort.likelihoods()
        log_lik = joint_log_likelihood(
            A, cohort.model.A_deps, cohort.model.num_states, obs, A_batched
        )
        return infer_states(
            log_lik, self._prior(cohort), cohort.config.num_iter, cohort.config.tolerance
        )

    @staticmethod
    def _prior(cohort: CohortState) -> list[np.ndarray]:
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

    def policies(self, cohort: CohortState) -> tuple[np.ndarray, np.ndarray]:
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

    def actions(self, cohort: CohortState, step: int) -> np.ndarray:
        return general_actions(cohort, step)

    def learn(self, cohort: CohortState, obs: np.ndarray, previous_actions: np.ndarray) -> None:
        cfg = cohort.config
        if cfg.learn_A:
            update_pA(cohort.pA, cohort.model.A_deps, obs, cohort.qs, cfg.lr_pA)
        if cfg.learn_B and cohort.qs_before is not None:
            moved = previous_actions[:, 0] >= 0
            if moved.any():
                sub = [p[moved] for p in cohort.pB]
                update_pB(
                    sub,
                    cohort.model.B_deps,
                    previous_actions[moved],
                    [q[moved] for q in cohort.qs],
                    [q[moved] for q in cohort.qs_before],
                    cfg.lr_pB,
                )
                for p, s in zip(cohort.pB, sub, strict=True):
                    p[moved] = s


def general_actions(cohort: CohortState, step: int) -> np.ndarray:
    """:func:`~freeagentics.inference.select_actions` with the cohort's settings."""
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
        tie_tolerance=cfg.ties,
    )
