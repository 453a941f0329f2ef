"""Result types shared by every knowledge store: nodes, edges, statistics, limits.

They are frozen snapshots: a store hands out copies, never its live records, so a
result can be cached, compared across store implementations, and kept by the caller
without seeing later writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from freeagentics.errors import ConfigurationError

__all__ = [
    "DIRECTIONS",
    "MAX_HOPS",
    "MAX_LIMIT",
    "CapacityError",
    "Edge",
    "GraphStats",
    "Node",
    "PropertyValue",
]

PropertyValue = bool | int | float | str
"""A property value: a JSON scalar other than null. Floats must be finite."""

MAX_HOPS = 32
"""Largest ``k`` of :meth:`KnowledgeStore.k_hop` and ``max_depth`` of ``shortest_path``."""

MAX_LIMIT = 10_000
"""Largest ``limit`` of :meth:`KnowledgeStore.find_nodes`; page with ``offset`` beyond it."""

DIRECTIONS = ("out", "in", "both")
"""Edge directions a traversal may follow."""


class CapacityError(ConfigurationError):
    """A write cannot fit: pinned items plus this tick's writes exceed the store's capacity.

    The write that raises it changes nothing.
    """


class _ReadOnlyDict(dict):
    """A ``dict`` that refuses mutation.

    Results are shared with the query cache, so callers must not change them; being
    a real ``dict`` it still compares equal to one, prints like one and pickles.
    """

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> None:
        raise TypeError("result properties are read-only; copy them with dict(...)")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple:
        return (_ReadOnlyDict, (dict(self),))


def _frozen(properties: Mapping[str, PropertyValue]) -> Mapping[str, PropertyValue]:
    return _ReadOnlyDict(properties)


@dataclass(frozen=True, slots=True)
class Node:
    """One node of the knowledge graph.

    ``(type, key)`` identifies the node; ``id`` is the integer the store assigned at
    creation (never reused). ``created_tick``/``updated_tick`` are the store ticks of
    its creation and of its last upsert. Hashing ignores ``properties``.
    """

    id: int
    type: str
    key: str
    properties: Mapping[str, PropertyValue] = field(hash=False)
    created_tick: int
    updated_tick: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "properties", _frozen(self.properties))


@dataclass(frozen=True, slots=True)
class Edge:
    """One directed, typed edge ``src -type-> dst``; at most one per ``(src, dst, type)``."""

    src: int
    dst: int
    type: str
    properties: Mapping[str, PropertyValue] = field(hash=False)
    weight: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "properties", _frozen(self.properties))


@dataclass(frozen=True, slots=True)
class GraphStats:
    """Size and capacity of a store.

    ``nodes_by_type``/``edges_by_type`` map each present type to its count, keys
    sorted. ``evicted_nodes``/``evicted_edges`` count what capacity eviction removed
    since the store was created (edges removed with an evicted node included);
    explicit removals are not counted.
    """

    tick: int
    nodes: int
    edges: int
    pinned_nodes: int
    pinned_edges: int
    max_nodes: int
    max_edges: int
    evicted_nodes: int
    evicted_edges: int
    nodes_by_type: Mapping[str, int] = field(hash=False)
    edges_by_type: Mapping[str, int] = field(hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes_by_type", _frozen(dict(sorted(self.nodes_by_type.items()))))
        object.__setattr__(self, "edges_by_type", _frozen(dict(sorted(self.edges_by_type.items()))))
