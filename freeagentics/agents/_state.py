"""What an engine reads from and writes to a cohort: the cohort as engines see it.

Engines depend on this protocol, not on :class:`~freeagentics.agents.Cohort`, so the
cohort can import its engines without the engines importing it back.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import numpy as np

from freeagentics.agents._config import CohortConfig
from freeagentics.models import GenerativeModel

__all__ = ["CohortState", "StepResult"]


class CohortState(Protocol):
    """Per-agent rows and shared parameters of a cohort (see ``Cohort`` for shapes)."""

    model: GenerativeModel
    config: CohortConfig
    rng: np.random.Generator
    n: int
    qs: list[np.ndarray]
    actions: np.ndarray
    q_pi: np.ndarray
    A: tuple[np.ndarray, ...]
    B: tuple[np.ndarray, ...]
    D: tuple[np.ndarray, ...]
    log_E: np.ndarray
    pA: list[np.ndarray] | None
    pB: list[np.ndarray] | None
    qs_before: list[np.ndarray] | None

    @property
    def dtype(self) -> type[np.floating]: ...

    def likelihoods(self) -> tuple[tuple[np.ndarray, ...], bool]: ...

    def transitions(self) -> tuple[tuple[np.ndarray, ...], bool]: ...

    def preferences(self) -> tuple[tuple[np.ndarray, ...], bool]: ...

    def flat_scores(self) -> np.ndarray: ...


class StepResult(NamedTuple):
    """What one fused step produces: beliefs per factor ``(N, S_f)``, free energy
    ``(N,)``, and ``G``, ``q_pi`` ``(N, P)`` (None when the step did not plan)."""

    qs: list[np.ndarray]
    free_energy: np.ndarray
    G: np.ndarray | None
    q_pi: np.ndarray | None
