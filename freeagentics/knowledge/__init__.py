"""The population's knowledge graph: a bounded typed property graph and its updater.

* :class:`KnowledgeStore` -- the store contract (ids, merge semantics, capacity and
  eviction, deterministic query order) any backend implements identically.
* :class:`InMemoryKnowledgeGraph` -- the in-memory store, with a bounded query cache.
* :class:`KnowledgeUpdater` -- folds each tick's population arrays into the graph so
  that its size tracks agents, coalitions and distinct locations, not ticks.
"""

from __future__ import annotations

from freeagentics._lazy import lazy_names

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

# the names load with their modules on first use (see freeagentics._lazy)
__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "CacheInfo": "._cache",
        "QueryCache": "._cache",
        "OPERATORS": "._filters",
        "InMemoryKnowledgeGraph": "._memory",
        "SqlKnowledgeGraph": "._sql",
        "DEFAULT_PINNED_EDGE_TYPES": "._store",
        "DEFAULT_PINNED_TYPES": "._store",
        "KnowledgeStore": "._store",
        "DIRECTIONS": "._types",
        "MAX_HOPS": "._types",
        "MAX_LIMIT": "._types",
        "CapacityError": "._types",
        "Edge": "._types",
        "GraphStats": "._types",
        "Node": "._types",
        "PropertyValue": "._types",
        "IngestReport": "._updater",
        "KnowledgeUpdater": "._updater",
        "Sightings": "._updater",
    },
)
