"""The contract every knowledge store implements: :class:`KnowledgeStore`.

Two implementations given the same calls must return equal results, so the contract
fixes everything a backend might otherwise choose:

Identity
    A node is identified by ``(type, key)``. Creating one assigns the next integer id
    of a counter that starts at 1 and never goes back: ids are never reused, not even
    after removal or eviction (re-creating an evicted ``(type, key)`` gives a new id).
    Within one batch, new nodes get ids in order of first appearance. An edge is
    identified by ``(src, dst, type)``; there is at most one.

Properties
    Flat mappings of non-empty ``str`` names to ``bool``, ``int``, finite ``float``
    or ``str`` values (numpy scalars are converted). An upsert merges: named
    properties are overwritten, others kept. There is no null; to drop a property,
    remove and re-create the node.

Ticks
    The store has a clock, :attr:`tick`, moved forward by :meth:`set_tick` (never
    back). Every upsert stamps the node or edge with the current tick
    (``Node.updated_tick``, and ``created_tick`` on creation) even if no property
    changed.

Capacity and eviction
    At most ``max_nodes`` nodes and ``max_edges`` edges. Nodes whose type is in
    ``pinned_types`` (default ``agent`` and ``coalition``) and edges whose type is in
    ``pinned_edge_types`` (default ``member_of``) are never evicted, only removed
    explicitly. Everything else is *evictable*. When a write leaves more than
    ``max_nodes`` nodes, evictable nodes with ``updated_tick < tick`` are removed in
    ascending ``(updated_tick, id)`` order (least recently updated first) until the
    count is ``max_nodes``; their incident edges go with them. Edges beyond
    ``max_edges`` are evicted the same way in ascending
    ``(updated_tick, src, dst, type)`` order. Items written in the current tick are
    never evicted: if pinned items plus this tick's evictable writes would exceed a
    capacity, the write raises :class:`CapacityError` and changes nothing. Hence the
    counts never exceed the capacities, whatever the number of ticks.

Queries and order
    Results are snapshots (frozen :class:`Node`/:class:`Edge`), ordered by node id
    where no other order is stated, so they compare equal across implementations.
    ``direction`` is ``"out"`` (follow ``src -> dst``), ``"in"`` (``dst -> src``) or
    ``"both"`` (ignore direction). ``edge_type=None`` follows every edge type.
    ``where`` filters use the syntax of :mod:`freeagentics.knowledge._filters`.

Errors
    Ids that do not exist raise :class:`~freeagentics.errors.UnknownIdError` naming
    the id; malformed arguments raise :class:`~freeagentics.errors.ConfigurationError`
    (checked by the helpers of :mod:`freeagentics.knowledge._args`, which every
    implementation should share). Batch writes check every row before changing
    anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from freeagentics.knowledge._types import MAX_HOPS, Edge, GraphStats, Node, PropertyValue

__all__ = ["DEFAULT_PINNED_EDGE_TYPES", "DEFAULT_PINNED_TYPES", "KnowledgeStore"]

DEFAULT_PINNED_TYPES = frozenset({"agent", "coalition"})
DEFAULT_PINNED_EDGE_TYPES = frozenset({"member_of"})

Columns = Mapping[str, np.ndarray | Sequence[Any] | PropertyValue]


@runtime_checkable
class KnowledgeStore(Protocol):
    """A bounded, typed property graph (see the module docstring for the contract)."""

    @property
    def max_nodes(self) -> int: ...

    @property
    def max_edges(self) -> int: ...

    @property
    def pinned_types(self) -> frozenset[str]: ...

    @property
    def pinned_edge_types(self) -> frozenset[str]: ...

    @property
    def tick(self) -> int:
        """The current tick (0 at creation)."""
        ...

    def set_tick(self, tick: int) -> None:
        """Move the clock to ``tick`` (``>=`` the current tick)."""
        ...

    # --- nodes -----------------------------------------------------------------

    def upsert_node(
        self, type: str, key: str, properties: Mapping[str, PropertyValue] | None = None
    ) -> int:
        """Create or update node ``(type, key)``, merging ``properties``; return its id."""
        ...

    def upsert_nodes(
        self,
        type: str,
        keys: np.ndarray | Sequence[str | int],
        properties: Columns | None = None,
    ) -> np.ndarray:
        """Batch :meth:`upsert_node` of one type.

        Args:
            keys: (N,) keys, ``str`` or integers (converted with ``str``).
            properties: name -> (N,) array or length-N sequence of values, or one
                scalar for every row. Row ``i`` is merged into node ``keys[i]``;
                repeated keys are applied in order.

        Returns:
            (N,) int64 node ids, row-aligned with ``keys``.
        """
        ...

    def get_node(self, node_id: int) -> Node: ...

    def get_nodes(self, node_ids: np.ndarray | Sequence[int]) -> list[Node]:
        """Row-aligned :meth:`get_node` of (N,) ids: one round trip for a batch."""
        ...

    def node_id(self, type: str, key: str | int) -> int | None:
        """Id of node ``(type, key)``, or ``None`` if there is none."""
        ...

    def node_ids(self, type: str, keys: np.ndarray | Sequence[str | int]) -> np.ndarray:
        """(N,) int64 ids of ``(type, keys[i])``, -1 where there is no such node."""
        ...

    def remove_node(self, node_id: int) -> None:
        """Remove a node (pinned or not) and every edge into or out of it."""
        ...

    # --- edges -----------------------------------------------------------------

    def upsert_edge(
        self,
        src: int,
        dst: int,
        type: str,
        properties: Mapping[str, PropertyValue] | None = None,
        weight: float = 1.0,
    ) -> None:
        """Create or update edge ``src -type-> dst`` (both nodes must exist)."""
        ...

    def upsert_edges(
        self,
        srcs: np.ndarray | Sequence[int],
        dsts: np.ndarray | Sequence[int],
        type: str,
        properties: Columns | None = None,
        weights: np.ndarray | Sequence[float] | float = 1.0,
    ) -> None:
        """Batch :meth:`upsert_edge` of one type; ``srcs``, ``dsts`` (E,) int, ``weights`` (E,)."""
        ...

    def get_edge(self, src: int, dst: int, type: str) -> Edge: ...

    def remove_edge(self, src: int, dst: int, type: str) -> None:
        """Remove one edge; :class:`UnknownIdError` if it does not exist."""
        ...

    def remove_edges(
        self,
        srcs: np.ndarray | Sequence[int],
        dsts: np.ndarray | Sequence[int],
        type: str,
        *,
        missing_ok: bool = False,
    ) -> int:
        """Remove edges ``srcs[i] -type-> dsts[i]``; return how many existed.

        Unless ``missing_ok``, a missing edge raises before anything is removed.
        """
        ...

    # --- queries ---------------------------------------------------------------

    def find_nodes(
        self,
        type: str | None = None,
        where: Mapping[str, Any] | None = None,
        *,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Node]:
        """Nodes of ``type`` (any if ``None``) matching ``where``, ascending id.

        ``limit`` in ``[0, MAX_LIMIT]``; ``offset`` skips that many matches first.
        """
        ...

    def edges(
        self, node_id: int, edge_type: str | None = None, direction: str = "out"
    ) -> list[Edge]:
        """Edges incident to a node, ascending ``(src, dst, type)``, each once."""
        ...

    def neighbours(
        self, node_id: int, edge_type: str | None = None, direction: str = "out"
    ) -> list[int]:
        """Distinct ids one edge away, ascending (a self-loop lists the node itself)."""
        ...

    def k_hop(
        self, node_id: int, k: int, edge_type: str | None = None, direction: str = "out"
    ) -> dict[int, int]:
        """Breadth-first distances of every node within ``k`` hops (``0 <= k <= MAX_HOPS``).

        The start is at distance 0. Keys are in ascending id order.
        """
        ...

    def shortest_path(
        self,
        src: int,
        dst: int,
        edge_type: str | None = None,
        *,
        direction: str = "out",
        max_depth: int = MAX_HOPS,
    ) -> list[int] | None:
        """Fewest-hop path ``[src, ..., dst]``, or ``None`` if none has ``<= max_depth`` hops.

        Edge weights are ignored. Among equally short paths the lexicographically
        smallest sequence of node ids is returned; ``src == dst`` gives ``[src]``.
        """
        ...

    def count_nodes(self, type: str | None = None) -> int: ...

    def count_edges(self, type: str | None = None) -> int: ...

    def stats(self) -> GraphStats: ...
