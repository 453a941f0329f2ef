"""Simulations: a world, a heterogeneous population, coalitions and a knowledge graph."""

from freeagentics.simulation._activity import WARNINGS, ActivityTracker, activity_warnings
from freeagentics.simulation._config import CoalitionSettings, ObjectiveSpec, SimulationConfig
from freeagentics.simulation._events import EventBus, Subscription, TickEvents
from freeagentics.simulation.simulation import CHECKPOINT_FORMAT, Simulation

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
