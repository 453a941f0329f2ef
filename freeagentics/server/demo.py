"""The demo simulation a server starts (``demo``): a small ecology that runs for ever."""

from __future__ import annotations

from typing import Any

__all__ = ["DEMO_SCENARIO", "demo_scenario"]

DEMO_SCENARIO: dict[str, Any] = {
    "scenario": {"name": "demo", "seed": 0},
    # a sustainable ecology: the food that regrows each tick (about 4 units on 32 x 32)
    # exceeds what 100 agents moving every tick spend (2 units), so the demo runs for ever
    "world": {
        "height": 32,
        "width": 32,
        "energy_cost_per_move": 0.02,
        "resources": [{"name": "food", "density": 0.04, "regrowth": 0.1}],
    },
    "coalitions": {"auto_objectives": 3, "objective_capacity": 8},
}


def demo_scenario(agents: int) -> dict[str, Any]:
    """The demo: explorers, collectors and coordinators sharing ``agents`` 2:2:1."""
    coordinators = max(1, agents // 5)
    explorers = max(1, (agents - coordinators) // 2)
    collectors = max(0, agents - coordinators - explorers)
    side = max(32, int((agents * 4) ** 0.5) + 1)
    return {
        **DEMO_SCENARIO,
        "world": {**DEMO_SCENARIO["world"], "height": side, "width": side},
        "agents": {"explorer": explorers, "collector": collectors, "coordinator": coordinators},
    }
