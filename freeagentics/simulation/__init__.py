"""Simulations: a world, a heterogeneous population, coalitions and a knowledge graph."""

from __future__ import annotations

from freeagentics._lazy import lazy_names

__all__ = [
    "CHECKPOINT_FORMAT",
    "WARNINGS",
    "ActivityTracker",
    "CoalitionSettings",
    "EventBus",
    "ObjectiveSpec",
    "Simulation",
    "SimulationConfig",
    "Subscription",
    "TickEvents",
    "activity_warnings",
]

# the names load with their modules on first use (see freeagentics._lazy)
__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "WARNINGS": "._activity",
        "ActivityTracker": "._activity",
        "activity_warnings": "._activity",
        "CoalitionSettings": "._config",
        "ObjectiveSpec": "._config",
        "SimulationConfig": "._config",
        "EventBus": "._events",
        "Subscription": "._events",
        "TickEvents": "._events",
        "CHECKPOINT_FORMAT": ".simulation",
        "Simulation": ".simulation",
    },
)
