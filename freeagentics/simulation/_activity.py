"""Is anybody moving? Per-tick activity of a population, and warnings when it stops.

Every tick :class:`ActivityTracker` folds the world's step result into a few figures
(one fused pass over the agents' slots, no temporaries of size N):

* ``agents``: agents in the world; ``alive`` / ``dead``: with energy above 0 / at 0
  (an exhausted agent stays put and collects nothing); ``alive_fraction``;
* ``moving``: agents whose cell changed this tick; ``moving_fraction`` (of all agents,
  so the dead count as not moving); ``moving_fraction_avg``: its mean over the last
  ``window`` ticks (fewer at the start);
* ``stuck``: alive agents that have not changed cell for ``window`` ticks or more;
  ``stuck_fraction`` (of all agents); ``stuck_ticks``: that ``window``;
* ``collected``: resource units taken by all agents this tick.

State (what a checkpoint must hold to continue the same figures): ``still`` ``(C,)``
int32, ticks since each slot's agent last changed cell (saturating); ``ring``
``(window,)`` float32, the last moving fractions; ``filled`` and ``cursor``. Memory is
``4 C + 4 window`` bytes whatever the length of the run.

:func:`activity_warnings` turns the figures into the warnings the dashboard, the
WebSocket frames and ``/metrics`` show: the world is frozen, agents are stuck, agents
are dying.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from freeagentics._checks import whole_number_at_least
from freeagentics.state import CheckpointError, State

__all__ = [
    "DYING_ALIVE_FRACTION",
    "FROZEN_MOVING_FRACTION",
    "STUCK_FRACTION",
    "WARNINGS",
    "ActivityTracker",
    "activity_warnings",
]

#: below this mean moving fraction over the window, the world is called frozen
FROZEN_MOVING_FRACTION = 0.01
#: at or above this share of agents stuck for the whole window, agents are called stuck
STUCK_FRACTION = 0.5
#: below this alive fraction, agents are called dying
DYING_ALIVE_FRACTION = 0.9
#: every warning code :func:`activity_warnings` can give, in a fixed order
WARNINGS = ("frozen", "stuck", "dying")

_SATURATE = np.iinfo(np.int32).max - 1


@numba.njit(cache=True, nogil=True)
def _fold(moved, active, energy, still, window):
    """Update ``still`` in place; return (agents, alive, moving, stuck).

    Written without branches on the data: with moves scattered at random, a branchy
    loop is several times slower (mispredictions) at 10^5 agents.

    Args:
        moved, active: (C,) bool; energy: (C,) float32; still: (C,) int32.
    """
    agents = alive = moving = stuck = 0
    for i in range(still.shape[0]):
        a = active[i]
        m = moved[i] and a
        s = np.int32(0) if (m or not a) else min(still[i] + 1, _SATURATE)
        still[i] = s
        al = a and energy[i] > 0
        agents += a
        moving += m
        alive += al
        stuck += al and s >= window
    return agents, alive, moving, stuck


class ActivityTracker:
    """Moving, alive and stuck agents of one world, tick by tick (see the module docstring).

    Args:
        window: ticks without a change of cell that make an agent stuck, and the length
            of the moving-fraction average.
    """

    def __init__(self, window: int = 50):
        self.window = whole_number_at_least("stuck_ticks", window, 1)
        self.still = np.zeros(0, dtype=np.int32)
        self.ring = np.zeros(self.window, dtype=np.float32)
        self.filled = 0
        self.cursor = 0
        self.latest: dict[str, Any] = {}

    def export_state(self) -> State:
        """The counters and the moving-fraction ring, for checkpoints."""
        return State(
            {"still": self.still.copy(), "ring": self.ring.copy()},
            {"filled": self.filled, "cursor": self.cursor, "latest": self.latest},
        )

    def import_state(self, state: State) -> None:
        """Continue from :meth:`export_state` (the window is the configuration's)."""
        ring = state.array("ring", np.float32, 1)
        filled, cursor = state.value("filled", int), state.value("cursor", int)
        if (
            ring.size != self.window
            or not (0 <= filled <= self.window)
            or not (0 <= cursor < self.window)
        ):
            raise CheckpointError(
                f"activity state does not fit a window of {self.window} ticks "
                f"(ring {ring.size}, filled {filled}, cursor {cursor})"
            )
        self.still = state.array("still", np.int32, 1)
        self.ring, self.filled, self.cursor = ring, filled, cursor
        self.latest = dict(state.value("latest", dict))

    def forget(self, slots: np.ndarray) -> None:
        """Start the count afresh for agents just placed on ``slots`` ``(m,)``."""
        slots = np.asarray(slots, dtype=np.int64)
        inside = slots[slots < self.still.size]
        self.still[inside] = 0

    def update(
        self, moved: np.ndarray, active: np.ndarray, energy: np.ndarray, collected: float
    ) -> dict[str, Any]:
        """Fold one tick in and return its figures (also kept as :attr:`latest`).

        Args:
            moved, active: ``(C,)`` bool per world slot; energy: ``(C,)`` float32 after
                the tick; collected: resource units taken this tick.
        """
        if self.still.size < active.size:  # the world grew new slots
            self.still = np.concatenate(
                [self.still, np.zeros(active.size - self.still.size, np.int32)]
            )
        agents, alive, moving, stuck = _fold(moved, active, energy, self.still, self.window)
        fraction = moving / agents if agents else 0.0
        self.ring[self.cursor] = fraction
        self.cursor = (self.cursor + 1) % self.window
        self.filled = min(self.filled + 1, self.window)
        latest = {
            "agents": agents,
            "alive": alive,
            "dead": agents - alive,
            "alive_fraction": alive / agents if agents else 0.0,
            "moving": moving,
            "moving_fraction": fraction,
            "moving_fraction_avg": float(self.ring[: self.filled].mean()),
            "stuck": stuck,
            "stuck_fraction": stuck / agents if agents else 0.0,
            "stuck_ticks": self.window,
            "collected": float(collected),
        }
        latest["warnings"] = activity_warnings(latest, self.filled >= self.window)
        self.latest = latest  # whole before it is seen: readers on other threads take it as is
        return self.latest


def activity_warnings(activity: dict[str, Any], window_full: bool = True) -> list[dict[str, str]]:
    """Warnings for one tick's activity figures, as ``{"code", "message"}`` in
    :data:`WARNINGS` order; empty when all is well.

    ``frozen`` and ``stuck`` need a full window of ticks behind them (``window_full``).
    """
    out: list[dict[str, str]] = []
    n, k = activity["agents"], activity["stuck_ticks"]
    if not n:
        return out
    if window_full and activity["moving_fraction_avg"] < FROZEN_MOVING_FRACTION:
        out.append(
            {
                "code": "frozen",
                "message": f"world frozen: {activity['moving_fraction_avg']:.1%} of agents "
                f"moved per tick over the last {k} ticks",
            }
        )
    if window_full and activity["stuck_fraction"] >= STUCK_FRACTION:
        out.append(
            {
                "code": "stuck",
                "message": f"{activity['stuck']} of {n} agents have not moved for {k} ticks",
            }
        )
    if activity["alive_fraction"] < DYING_ALIVE_FRACTION:
        out.append(
            {
                "code": "dying",
                "message": f"{activity['dead']} of {n} agents are exhausted (energy 0)",
            }
        )
    return out
