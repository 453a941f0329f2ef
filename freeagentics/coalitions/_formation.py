"""What every formation strategy returns, and the protocol it implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from freeagentics.coalitions._objectives import ObjectiveSet
from freeagentics.errors import ConfigurationError

__all__ = ["Formation", "FormationStrategy", "check_formation_inputs"]


@dataclass(frozen=True, eq=False)
class Formation:
    """The groups a strategy proposes for ``N`` agents, ``G`` groups.

    Attributes:
        assignment: ``(N,)`` int64 group index in ``[0, G)``, ``-1`` = unassigned.
        group_objective: ``(G,)`` int64 objective row (into the :class:`ObjectiveSet`
            given to ``form``), ``-1`` = a group formed without an objective.
        leader: ``(G,)`` int64 agent index of each group's leader, ``-1`` for an empty group.
        role: ``(N,)`` int8 :class:`Role` code.
        leader_score: ``(N,)`` float64 the score leaders were elected by (higher wins);
            the manager reuses it to promote a new leader when one is removed.
    """

    assignment: np.ndarray
    group_objective: np.ndarray
    leader: np.ndarray
    role: np.ndarray
    leader_score: np.ndarray

    @property
    def num_groups(self) -> int:
        """``G``."""
        return int(self.group_objective.shape[0])


@runtime_checkable
class FormationStrategy(Protocol):
    """Turns agent positions and capabilities into coalition groups.

    Implementations are deterministic given ``rng`` and never assign an agent whose
    ``available`` entry is ``False``.
    """

    def form(
        self,
        positions: np.ndarray,
        capabilities: np.ndarray,
        available: np.ndarray,
        objectives: ObjectiveSet,
        rng: np.random.Generator,
    ) -> Formation:
        """Propose groups.

        Args:
            positions: ``(N, 2)`` agent coordinates.
            capabilities: ``(N, K)`` capability levels.
            available: ``(N,)`` bool, agents that may be assigned.
            objectives: the ``M`` objectives to staff (ignored by objective-free strategies).
            rng: source of any randomness.

        Returns:
            A :class:`Formation`.
        """
        ...


def check_formation_inputs(
    positions: np.ndarray,
    capabilities: np.ndarray,
    available: np.ndarray | None,
    objectives: ObjectiveSet | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate and convert the shared ``form`` inputs.

    Returns:
        ``positions`` ``(N, 2)`` float64, ``capabilities`` ``(N, K)`` float64 and
        ``available`` ``(N,)`` bool (all ``True`` when ``None``).
    """
    pos = np.asarray(positions, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 2:
        raise ConfigurationError(f"positions must have shape (N, 2), got {pos.shape}")
    n = pos.shape[0]
    caps = np.asarray(capabilities, dtype=np.float64)
    if caps.ndim == 1 and caps.shape[0] == n and n:
        raise ConfigurationError(f"capabilities must have shape ({n}, K), got {caps.shape}")
    if caps.ndim != 2 or caps.shape[0] != n:
        raise ConfigurationError(f"capabilities must have shape ({n}, K), got {caps.shape}")
    if objectives is not None and len(objectives) and caps.shape[1] != objectives.num_capabilities:
        raise ConfigurationError(
            f"capabilities must have K={objectives.num_capabilities} columns to match the "
            f"objectives, got {caps.shape[1]}"
        )
    if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(caps))):
        raise ConfigurationError("positions and capabilities must be finite")
    if available is None:
        avail = np.ones(n, dtype=bool)
    else:
        avail = np.asarray(available)
        if avail.shape != (n,) or avail.dtype != np.bool_:
            raise ConfigurationError(
                f"available must be a bool array of shape ({n},), got {avail.dtype} {avail.shape}"
            )
    return pos, caps, avail
