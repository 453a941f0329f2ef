"""What every knowledge store does the same way: argument checks, the public write
methods that funnel into a backend's batch writes, capacity properties, the cache.

A store subclasses :class:`StoreFrontEnd` and supplies the batch primitives
``_upsert_nodes(type, keys, names, rows) -> ids``,
``_upsert_edges(srcs, dsts, type, names, rows, weights)`` and ``remove_edges``; the
query computations ``_find_nodes``, ``_edges``, ``_neighbours``, ``_k_hop`` and
``_shortest_path`` (arguments already checked, results as tuples for the cache); the
attributes ``_max_nodes``, ``_max_edges``, ``_pinned_types``, ``_pinned_edge_types``,
``_tick``, ``_version`` and ``_cache`` (a :class:`QueryCache`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from freeagentics.errors import ConfigurationError
from freeagentics.knowledge._args import (
    check_direction,
    check_hops,
    check_id,
    check_ids,
    check_keys,
    check_name,
    check_page,
    check_properties,
    check_property_columns,
    check_weights,
)
from freeagentics.knowledge._cache import MISS, CacheInfo
from freeagentics.knowledge._filters import parse_where
from freeagentics.knowledge._store import Columns
from freeagentics.knowledge._types import MAX_HOPS, Edge, Node, PropertyValue

__all__ = ["StoreFrontEnd"]


class StoreFrontEnd:
    """The shared half of a knowledge store (see the module docstring)."""

    @property
    def max_nodes(self) -> int:
        return self._max_nodes

    @property
    def max_edges(self) -> int:
        return self._max_edges

    @property
    def pinned_types(self) -> frozenset[str]:
        return self._pinned_types

    @property
    def pinned_edge_types(self) -> frozenset[str]:
        return self._pinned_edge_types

    @property
    def tick(self) -> int:
        return self._tick

    def cache_info(self) -> CacheInfo:
        return self._cache.info()

    def upsert_node(
        self, type: str, key: str, properties: Mapping[str, PropertyValue] | None = None
    ) -> int:
        type = check_name(type, "node type")
        keys = check_keys([key])
        props = check_properties(properties)
        return self._upsert_nodes(type, keys, tuple(props), [tuple(props.values())])[0]

    def upsert_nodes(
        self,
        type: str,
        keys: np.ndarray | Sequence[str | int],
        properties: Columns | None = None,
    ) -> np.ndarray:
        type = check_name(type, "node type")
        keys = check_keys(keys)
        names, rows = check_property_columns(properties, len(keys))
        return np.asarray(self._upsert_nodes(type, keys, names, rows), dtype=np.int64)

    def upsert_edge(
        self,
        src: int,
        dst: int,
        type: str,
        properties: Mapping[str, PropertyValue] | None = None,
        weight: float = 1.0,
    ) -> None:
        type = check_name(type, "edge type")
        src, dst = check_id(src, "src"), check_id(dst, "dst")
        props = check_properties(properties)
        weights = check_weights(weight, 1)
        self._upsert_edges([src], [dst], type, tuple(props), [tuple(props.values())], weights)

    def upsert_edges(
        self,
        srcs: np.ndarray | Sequence[int],
        dsts: np.ndarray | Sequence[int],
        type: str,
        properties: Columns | None = None,
        weights: np.ndarray | Sequence[float] | float = 1.0,
    ) -> None:
        type = check_name(type, "edge type")
        srcs, dsts = self._pairs(srcs, dsts)
        names, rows = check_property_columns(properties, len(srcs))
        self._upsert_edges(srcs, dsts, type, names, rows, check_weights(weights, len(srcs)))

    @staticmethod
    def _pairs(srcs: Any, dsts: Any) -> tuple[list[int], list[int]]:
        srcs, dsts = check_ids(srcs, "srcs"), check_ids(dsts, "dsts")
        if len(srcs) != len(dsts):
            raise ConfigurationError(
                f"srcs and dsts must have the same length, got {len(srcs)} and {len(dsts)}"
            )
        return srcs, dsts

    def remove_edge(self, src: int, dst: int, type: str) -> None:
        self.remove_edges([src], [dst], type)

    def _cached(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        value = self._cache.get(key, self._version)
        if value is MISS:
            value = compute()
            self._cache.put(key, self._version, value)
        return value

    def _check_traversal(self, edge_type: Any, direction: Any) -> None:
        if edge_type is not None:
            check_name(edge_type, "edge type")
        check_direction(direction)

    # --- queries: checked and cached here; each store supplies the computation ----

    def find_nodes(
        self,
        type: str | None = None,
        where: Mapping[str, Any] | None = None,
        *,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Node]:
        if type is not None:
            type = check_name(type, "node type")
        conditions = parse_where(where)
        limit, offset = check_page(limit, offset)

        def compute() -> tuple[Node, ...]:
            return () if limit == 0 else self._find_nodes(type, conditions, limit, offset)

        return list(self._cached(("find_nodes", type, conditions, limit, offset), compute))

    def edges(
        self, node_id: int, edge_type: str | None = None, direction: str = "out"
    ) -> list[Edge]:
        nid = self._require(node_id)
        self._check_traversal(edge_type, direction)
        key = ("edges", nid, edge_type, direction)
        return list(self._cached(key, lambda: self._edges(nid, edge_type, direction)))

    def neighbours(
        self, node_id: int, edge_type: str | None = None, direction: str = "out"
    ) -> list[int]:
        nid = self._require(node_id)
        self._check_traversal(edge_type, direction)
        key = ("neighbours", nid, edge_type, direction)
        return list(self._cached(key, lambda: self._neighbours(nid, edge_type, direction)))

    def k_hop(
        self, node_id: int, k: int, edge_type: str | None = None, direction: str = "out"
    ) -> dict[int, int]:
        nid = self._require(node_id)
        k = check_hops(k, "k")
        self._check_traversal(edge_type, direction)
        key = ("k_hop", nid, k, edge_type, direction)
        return dict(self._cached(key, lambda: self._k_hop(nid, k, edge_type, direction)))

    def shortest_path(
        self,
        src: int,
        dst: int,
        edge_type: str | None = None,
        *,
        direction: str = "out",
        max_depth: int = MAX_HOPS,
    ) -> list[int] | None:
        src, dst = self._require(src), self._require(dst)
        max_depth = check_hops(max_depth, "max_depth")
        self._check_traversal(edge_type, direction)

        def compute() -> tuple[int, ...] | None:
            if src == dst:
                return (src,)
            return self._shortest_path(src, dst, edge_type, direction, max_depth)

        path = self._cached(("shortest_path", src, dst, edge_type, direction, max_depth), compute)
        return None if path is None else list(path)
