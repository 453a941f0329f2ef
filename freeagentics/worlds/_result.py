"""The per-tick outcome of :meth:`GridWorld.step`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["StepResult"]


@dataclass(frozen=True, eq=False)
class StepResult:
    """What one tick did, one row per slot (C = ``n_slots``, K resource types).

    Rows of free slots and of agents that were already exhausted are all zero / False.

    Attributes:
        moved: (C,) bool, the agent changed cell.
        collected: (C, K) float32, resource amount taken per type.
        energy_delta: (C,) float32, actual energy change (after clipping at 0).
        reward: (C,) float32, ``energy_delta`` plus ``goal_reward`` when on a goal.
        on_goal: (C,) bool, the agent stands on a goal after moving.
        on_hazard: (C,) bool, the agent stands on a hazard after moving.
        exhausted: (C,) bool, energy reached 0 during this tick.
        energy: (C,) float32, energy after the tick (a copy).
    """

    moved: np.ndarray
    collected: np.ndarray
    energy_delta: np.ndarray
    reward: np.ndarray
    on_goal: np.ndarray
    on_hazard: np.ndarray
    exhausted: np.ndarray
    energy: np.ndarray
