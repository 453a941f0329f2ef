"""The population's knowledge graph: a bounded typed property graph and its updater.

* :class:`KnowledgeStore` -- the store contract (ids, merge semantics, capacity and
  eviction, deterministic query order) any backend implements identically.
* :class:`InMemoryKnowledgeGraph` -- the in-memory store, with a bounded query cache.
* :class:`KnowledgeUpdater` -- folds each tick's population arrays into the graph so
  that its size tracks agents, coalitions and distinct locations, not ticks.
"""

from freeagentics.knowledge._cache import CacheInfo, QueryCache
from freeagentics.knowledge._filters import OPERATORS
from freeagentics.knowledge._memory import InMemoryKnowledgeGraph
from freeagentics.knowledge._sql import SqlKnowledgeGraph
from freeagentics.knowledge._store import (
    DEFAULT_PINNED_EDGE_TYPES,
    DEFAULT_PINNED_TYPES,
    KnowledgeStore,
)
from freeagentics.knowledge._types import (
    DIRECTIONS,
    MAX_HOPS,
    MAX_LIMIT,
    CapacityError,
    Edge,
    GraphStats,
    Node,
    PropertyValue,
)
from freeagentics.knowledge._updater import IngestReport, KnowledgeUpdater, Sightings

__all__ = [
    "DEFAULT_PINNED_EDGE_TYPES",
    "DEFAULT_PINNED_TYPES",
    "DIRECTIONS",
    "MAX_HOPS",
    "MAX_LIMIT",
    "OPERATORS",
    "CacheInfo",
    "CapacityError",
    "Edge",
    "GraphStats",
    "InMemoryKnowledgeGraph",
    "IngestReport",
    "KnowledgeStore",
    "KnowledgeUpdater",
    "Node",
    "PropertyValue",
    "QueryCache",
    "Sightings",
    "SqlKnowledgeGraph",
]
