"""Coalitions: groups of agents pursuing a shared objective, kept as arrays.

Per-agent state is ``(N,)`` arrays (membership, role); per-coalition state is a
small table of ``(J,)`` arrays. A :class:`FormationStrategy` proposes groups from
positions and capabilities; :class:`CoalitionManager` re-forms them on schedule,
keeps them consistent as the population changes, logs membership events in a
bounded ring buffer, and turns objectives into per-agent preference matrices via
:func:`apply_objective_preferences`.
"""

from __future__ import annotations

from freeagentics.coalitions._clustering import (
    GridClustering,
    HierarchicalClustering,
    KMeansClustering,
)
from freeagentics.coalitions._codes import CoalitionStatus, EventKind, Role
from freeagentics.coalitions._events import CoalitionEvents, EventLog
from freeagentics.coalitions._formation import Formation, FormationStrategy
from freeagentics.coalitions._greedy import GreedyFormation
from freeagentics.coalitions._leaders import elect_leaders
from freeagentics.coalitions._manager import CoalitionManager, EventSubscriber
from freeagentics.coalitions._objectives import (
    OBJECTIVE_KINDS,
    Objective,
    ObjectiveSet,
    capable_mask,
    match_score,
)
from freeagentics.coalitions._optimal import OptimalAssignment, assignment_cost
from freeagentics.coalitions._preferences import apply_objective_preferences
from freeagentics.coalitions._state import CoalitionState

__all__ = [
    "OBJECTIVE_KINDS",
    "CoalitionEvents",
    "CoalitionManager",
    "CoalitionState",
    "CoalitionStatus",
    "EventKind",
    "EventLog",
    "EventSubscriber",
    "Formation",
    "FormationStrategy",
    "GreedyFormation",
    "GridClustering",
    "HierarchicalClustering",
    "KMeansClustering",
    "Objective",
    "ObjectiveSet",
    "OptimalAssignment",
    "Role",
    "apply_objective_preferences",
    "assignment_cost",
    "capable_mask",
    "elect_leaders",
    "match_score",
]
