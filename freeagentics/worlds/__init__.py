"""Environments agents act in, stored as arrays with a leading agent (slot) axis.

The PettingZoo adapter lives in :mod:`freeagentics.worlds.pettingzoo` and is not
imported here, so this package works without PettingZoo installed.
"""

from __future__ import annotations

from freeagentics.worlds._codes import (
    MOVE_DELTAS,
    Cell,
    Move,
    n_cell_codes,
    neighbourhood_offsets,
    resource_code,
)
from freeagentics.worlds._config import GridWorldConfig, ResourceType
from freeagentics.worlds._layout import Layout, draw_layout
from freeagentics.worlds.grid import GridWorld, StepResult

__all__ = [
    "MOVE_DELTAS",
    "Cell",
    "GridWorld",
    "GridWorldConfig",
    "Layout",
    "Move",
    "ResourceType",
    "StepResult",
    "draw_layout",
    "n_cell_codes",
    "neighbourhood_offsets",
    "resource_code",
]
