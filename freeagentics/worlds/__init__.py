"""Environments agents act in, stored as arrays with a leading agent (slot) axis.

The PettingZoo adapter lives in :mod:`freeagentics.worlds.pettingzoo` and is not
imported here, so this package works without PettingZoo installed.
"""

from __future__ import annotations

from freeagentics._lazy import lazy_names

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

# the names load with their modules on first use (see freeagentics._lazy)
__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "MOVE_DELTAS": "._codes",
        "Cell": "._codes",
        "Move": "._codes",
        "n_cell_codes": "._codes",
        "neighbourhood_offsets": "._codes",
        "resource_code": "._codes",
        "GridWorldConfig": "._config",
        "ResourceType": "._config",
        "Layout": "._layout",
        "draw_layout": "._layout",
        "GridWorld": ".grid",
        "StepResult": ".grid",
    },
)
