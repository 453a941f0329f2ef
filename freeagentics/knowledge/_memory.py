"""``InMemoryKnowledgeGraph``: the reference :class:`KnowledgeStore`, held in dicts.

Indexes, all kept in step by every write:

* ``_nodes``: id -> record. Ids only grow, so dict order is ascending id and scans
  come out sorted without sorting.
* ``_by_type``: type -> ids (ascending, same reason); ``_by_key``: type -> key -> id.
* ``_out`` / ``_in``: node -> edge type -> neighbour -> edge record (one record
  shared by both directions).
* ``_node_lru`` / ``_edge_lru``: tick -> evictable items last written in that tick.
  The clock only moves forward, so buckets sit in ascending tick order and the
  eviction candidates are always in the first bucket; within it the contract's
  order (by id, or by ``(src, dst, type)``) is a sort of that one bucket.

Query results are cached in a bounded :class:`QueryCache` keyed by the validated
arguments and invalidated by a version counter that every write bumps.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from freeagentics._checks import whole_number_at_least
from freeagentics.errors import ConfigurationError, UnknownIdError
from freeagentics.knowledge._args import (
    check_id,
    check_ids,
    check_keys,
    check_name,
    check_tick,
)
from freeagentics.knowledge._cache import QueryCache
from freeagentics.knowledge._filters import matches
from freeagentics.knowledge._frontend import StoreFrontEnd
from freeagentics.knowledge._memory_state import graph_state, load_graph_state
from freeagentics.knowledge._store import DEFAULT_PINNED_EDGE_TYPES, DEFAULT_PINNED_TYPES
from freeagentics.knowledge._types import (
    CapacityError,
    Edge,
    GraphStats,
    Node,
    PropertyValue,
)
from freeagentics.state import State

__all__ = ["InMemoryKnowledgeGraph"]


class _NodeRec:
    """A node's state. The last batch row written is kept as ``(pnames, prow)`` and
    merged into ``props`` only when read or when a row with other names arrives:
    most summaries are overwritten by the next batch before anyone reads them, and a
    pointer store per row is several times cheaper than a dict merge."""

    __slots__ = ("created", "key", "pnames", "props", "prow", "type", "updated")

    def __init__(self, type: str, key: str, names: tuple, row: tuple, tick: int) -> None:
        self.type = type
        self.key = key
        self.props: dict[str, PropertyValue] = {}
        self.pnames = names
        self.prow = row
        self.created = tick
        self.updated = tick

    def properties(self) -> dict[str, PropertyValue]:
        if self.prow is not None:
            self.props.update(zip(self.pnames, self.prow, strict=True))
            self.prow = None
        return self.props


class _EdgeRec:
    __slots__ = ("props", "updated", "weight")

    def __init__(self, props: dict, weight: float, tick: int) -> None:
        self.props = props
        self.weight = weight
        self.updated = tick


def _type_set(values: Iterable[str], what: str) -> frozenset[str]:
    if isinstance(values, str):
        raise ConfigurationError(f"{what} must be a collection of type names, not a string")
    return frozenset(check_name(v, f"{what} entry") for v in values)


def _move(lru: dict, item: Hashable, old_tick: int, bucket: dict) -> None:
    """Move ``item`` from the bucket of ``old_tick`` to ``bucket`` (the current tick's)."""
    old = lru[old_tick]
    del old[item]
    if not old:
        del lru[old_tick]
    bucket[item] = None


def _unlink(adjacency: dict, a: int, type: str, b: int) -> _EdgeRec:
    """Pop ``adjacency[a][type][b]``, dropping containers it leaves empty."""
    by_type = adjacency[a]
    nbrs = by_type[type]
    rec = nbrs.pop(b)
    if not nbrs:
        del by_type[type]
        if not by_type:
            del adjacency[a]
    return rec


class InMemoryKnowledgeGraph(StoreFrontEnd):
    """A bounded typed property graph in memory, implementing :class:`KnowledgeStore`.

    Args:
        max_nodes: node capacity; see the eviction rules in :mod:`._store`.
        max_edges: edge capacity.
        pinned_types: node types never evicted (default ``agent``, ``coalition``).
        pinned_edge_types: edge types never evicted (default ``member_of``).
        cache_size: most query results kept in the LRU cache (0 disables it).

    Memory is ``O(max_nodes + max_edges + cache_size * result size)``, whatever the
    number of ticks. ``find_nodes`` with ``where`` scans the nodes of the requested
    type (there are no property indexes); graph traversals cost ``O(edges visited)``.
    """

    def __init__(
        self,
        *,
        max_nodes: int = 250_000,
        max_edges: int = 1_000_000,
        pinned_types: Iterable[str] = DEFAULT_PINNED_TYPES,
        pinned_edge_types: Iterable[str] = DEFAULT_PINNED_EDGE_TYPES,
        cache_size: int = 1024,
    ) -> None:
        self._max_nodes = whole_number_at_least("max_nodes", max_nodes, 1)
        self._max_edges = whole_number_at_least("max_edges", max_edges, 1)
        self._pinned_types = _type_set(pinned_types, "pinned_types")
        self._pinned_edge_types = _type_set(pinned_edge_types, "pinned_edge_types")
        self._cache = QueryCache(cache_size)
        self._tick = 0
        self._version = 0
        self._next_id = 1
        self._nodes: dict[int, _NodeRec] = {}
        self._by_type: dict[str, dict[int, None]] = {}
        self._by_key: dict[str, dict[str, int]] = {}
        self._out: dict[int, dict[str, dict[int, _EdgeRec]]] = {}
        self._in: dict[int, dict[str, dict[int, _EdgeRec]]] = {}
        self._edges_by_type: dict[str, int] = {}
        self._n_edges = 0
        self._node_lru: dict[int, dict[int, None]] = {}
        self._edge_lru: dict[int, dict[tuple[int, int, str], None]] = {}
        self._pinned_nodes = 0
        self._pinned_edges = 0
        self._evicted_nodes = 0
        self._evicted_edges = 0

    # --- configuration and clock -------------------------------------------------

    @property
    def version(self) -> int:
        """Write counter: changes whenever the graph may have changed."""
        return self._version

    def set_tick(self, tick: int) -> None:
        tick = check_tick(tick)
        if tick < self._tick:
            raise ConfigurationError(f"tick cannot go back from {self._tick} to {tick}")
        self._tick = tick

    # --- nodes -------------------------------------------------------------------

    def _require(self, node_id: Any) -> int:
        node_id = check_id(node_id)
        if node_id not in self._nodes:
            raise UnknownIdError(f"node id {node_id} does not exist")
        return node_id

    def _upsert_nodes(
        self, type: str, keys: list[str], names: tuple[str, ...], rows: list[tuple]
    ) -> list[int]:
        if not keys:
            return []
        self._reserve_nodes(type, keys)
        tick = self._tick
        index = self._by_key.setdefault(type, {})
        members = self._by_type.setdefault(type, {})
        pinned = type in self._pinned_types
        lru = self._node_lru
        bucket = None if pinned else lru.setdefault(tick, {})
        nodes = self._nodes
        ids = []
        for key, row in zip(keys, rows, strict=True):
            nid = index.get(key)
            if nid is None:
                nid = self._next_id
                self._next_id += 1
                nodes[nid] = _NodeRec(type, key, names, row, tick)
                index[key] = nid
                members[nid] = None
                if pinned:
                    self._pinned_nodes += 1
                else:
                    bucket[nid] = None
            else:
                rec = nodes[nid]
                if row:
                    if rec.prow is not None and rec.pnames != names:
                        rec.properties()  # the pending row has other names: merge it first
                    rec.pnames = names
                    rec.prow = row
                if rec.updated != tick:
                    if not pinned:
                        _move(lru, nid, rec.updated, bucket)
                    rec.updated = tick
            ids.append(nid)
        self._evict_nodes()
        self._version += 1
        return ids

    def _reserve_nodes(self, type: str, keys: list[str]) -> None:
        """Raise :class:`CapacityError` unless the write fits after evicting stale nodes."""
        if len(self._nodes) + len(keys) <= self._max_nodes:
            return  # fits even if every key is new: skip the exact count
        index = self._by_key.get(type, {})
        fresh = len(self._node_lru.get(self._tick, ()))
        if type in self._pinned_types:
            added = len({k for k in keys if k not in index})
            need = self._pinned_nodes + added + fresh
        else:
            # evictable nodes this write stamps with the current tick become unevictable
            added = sum(
                1
                for k in set(keys)
                if (nid := index.get(k)) is None or self._nodes[nid].updated != self._tick
            )
            need = self._pinned_nodes + fresh + added
        if need > self._max_nodes:
            raise CapacityError(
                f"cannot upsert {len(keys)} {type!r} nodes at tick {self._tick}: "
                f"{need} pinned or current-tick nodes would exceed max_nodes={self._max_nodes}"
            )

    def _evict_nodes(self) -> None:
        excess = len(self._nodes) - self._max_nodes
        while excess > 0:
            # _reserve_nodes guarantees enough nodes older than the current tick
            bucket = next(iter(self._node_lru.values()))
            victims = sorted(bucket)[:excess]
            for nid in victims:
                self._drop_node(nid, evicted=True)
            excess -= len(victims)

    def _drop_node(self, nid: int, *, evicted: bool) -> None:
        rec = self._nodes.pop(nid)
        index = self._by_key[rec.type]
        del index[rec.key]
        members = self._by_type[rec.type]
        del members[nid]
        if not members:
            del self._by_type[rec.type]
            del self._by_key[rec.type]
        if rec.type in self._pinned_types:
            self._pinned_nodes -= 1
        else:
            bucket = self._node_lru[rec.updated]
            del bucket[nid]
            if not bucket:
                del self._node_lru[rec.updated]
        if evicted:
            self._evicted_nodes += 1
        for type, dsts in self._out.pop(nid, {}).items():
            for dst, erec in dsts.items():
                _unlink(self._in, dst, type, nid)
                self._forget_edge(nid, dst, type, erec, evicted)
        # a self-loop was already removed from _in above
        for type, srcs in self._in.pop(nid, {}).items():
            for src, erec in srcs.items():
                _unlink(self._out, src, type, nid)
                self._forget_edge(src, nid, type, erec, evicted)

    def get_node(self, node_id: int) -> Node:
        nid = self._require(node_id)
        return self._snapshot(nid, self._nodes[nid])

    def get_nodes(self, node_ids: np.ndarray | Sequence[int]) -> list[Node]:
        ids = check_ids(node_ids, "node_ids")
        nodes = self._nodes
        for nid in ids:
            if nid not in nodes:
                raise UnknownIdError(f"node id {nid} does not exist")
        return [self._snapshot(nid, nodes[nid]) for nid in ids]

    @staticmethod
    def _snapshot(nid: int, rec: _NodeRec) -> Node:
        return Node(nid, rec.type, rec.key, rec.properties(), rec.created, rec.updated)

    def node_id(self, type: str, key: str | int) -> int | None:
        type = check_name(type, "node type")
        (key,) = check_keys([key])
        return self._by_key.get(type, {}).get(key)

    def node_ids(self, type: str, keys: np.ndarray | Sequence[str | int]) -> np.ndarray:
        type = check_name(type, "node type")
        keys = check_keys(keys)
        index = self._by_key.get(type, {})
        return np.fromiter((index.get(k, -1) for k in keys), dtype=np.int64, count=len(keys))

    def remove_node(self, node_id: int) -> None:
        self._drop_node(self._require(node_id), evicted=False)
        self._version += 1

    # --- edges -------------------------------------------------------------------

    def _upsert_edges(
        self,
        srcs: list[int],
        dsts: list[int],
        type: str,
        names: tuple[str, ...],
        rows: list[tuple],
        weights: list[float],
    ) -> None:
        if not srcs:
            return
        for nid in (*srcs, *dsts):
            if nid not in self._nodes:
                raise UnknownIdError(f"node id {nid} does not exist")
        self._reserve_edges(type, srcs, dsts)
        tick = self._tick
        pinned = type in self._pinned_edge_types
        lru = self._edge_lru
        bucket = None if pinned else lru.setdefault(tick, {})
        for src, dst, row, weight in zip(srcs, dsts, rows, weights, strict=True):
            nbrs = self._out.setdefault(src, {}).setdefault(type, {})
            erec = nbrs.get(dst)
            if erec is None:
                erec = _EdgeRec(dict(zip(names, row, strict=True)), weight, tick)
                nbrs[dst] = erec
                self._in.setdefault(dst, {}).setdefault(type, {})[src] = erec
                self._n_edges += 1
                self._edges_by_type[type] = self._edges_by_type.get(type, 0) + 1
                if pinned:
                    self._pinned_edges += 1
                else:
                    bucket[(src, dst, type)] = None
            else:
                if row:
                    erec.props.update(zip(names, row, strict=True))
                erec.weight = weight
                if erec.updated != tick:
                    if not pinned:
                        _move(lru, (src, dst, type), erec.updated, bucket)
                    erec.updated = tick
        self._evict_edges()
        self._version += 1

    def _has_edge(self, src: int, dst: int, type: str) -> bool:
        return dst in self._out.get(src, {}).get(type, {})

    def _reserve_edges(self, type: str, srcs: list[int], dsts: list[int]) -> None:
        if self._n_edges + len(srcs) <= self._max_edges:
            return
        fresh = len(self._edge_lru.get(self._tick, ()))
        pairs = set(zip(srcs, dsts, strict=True))
        if type in self._pinned_edge_types:
            added = sum(1 for s, d in pairs if not self._has_edge(s, d, type))
            need = self._pinned_edges + added + fresh
        else:
            added = sum(
                1
                for s, d in pairs
                if (e := self._out.get(s, {}).get(type, {}).get(d)) is None
                or e.updated != self._tick
            )
            need = self._pinned_edges + fresh + added
        if need > self._max_edges:
            raise CapacityError(
                f"cannot upsert {len(srcs)} {type!r} edges at tick {self._tick}: "
                f"{need} pinned or current-tick edges would exceed max_edges={self._max_edges}"
            )

    def _evict_edges(self) -> None:
        excess = self._n_edges - self._max_edges
        while excess > 0:
            bucket = next(iter(self._edge_lru.values()))
            victims = sorted(bucket)[:excess]
            for src, dst, type in victims:
                self._drop_edge(src, dst, type, evicted=True)
            excess -= len(victims)

    def _drop_edge(self, src: int, dst: int, type: str, *, evicted: bool) -> None:
        erec = _unlink(self._out, src, type, dst)
        _unlink(self._in, dst, type, src)
        self._forget_edge(src, dst, type, erec, evicted)

    def _forget_edge(self, src: int, dst: int, type: str, erec: _EdgeRec, evicted: bool) -> None:
        """Update counters and the eviction index for an edge already unlinked."""
        self._n_edges -= 1
        left = self._edges_by_type[type] - 1
        if left:
            self._edges_by_type[type] = left
        else:
            del self._edges_by_type[type]
        if type in self._pinned_edge_types:
            self._pinned_edges -= 1
        else:
            bucket = self._edge_lru[erec.updated]
            del bucket[(src, dst, type)]
            if not bucket:
                del self._edge_lru[erec.updated]
        if evicted:
            self._evicted_edges += 1

    def get_edge(self, src: int, dst: int, type: str) -> Edge:
        type = check_name(type, "edge type")
        src, dst = check_id(src, "src"), check_id(dst, "dst")
        erec = self._out.get(src, {}).get(type, {}).get(dst)
        if erec is None:
            raise UnknownIdError(f"edge {src} -{type}-> {dst} does not exist")
        return Edge(src, dst, type, erec.props, erec.weight)

    def remove_edges(
        self,
        srcs: np.ndarray | Sequence[int],
        dsts: np.ndarray | Sequence[int],
        type: str,
        *,
        missing_ok: bool = False,
    ) -> int:
        type = check_name(type, "edge type")
        srcs, dsts = self._pairs(srcs, dsts)
        if not missing_ok:
            for src, dst in zip(srcs, dsts, strict=True):
                if not self._has_edge(src, dst, type):
                    raise UnknownIdError(f"edge {src} -{type}-> {dst} does not exist")
        removed = 0
        for src, dst in zip(srcs, dsts, strict=True):
            if self._has_edge(src, dst, type):
                self._drop_edge(src, dst, type, evicted=False)
                removed += 1
        if removed:
            self._version += 1
        return removed

    # --- queries -----------------------------------------------------------------

    def _find_nodes(
        self, type: str | None, conditions: tuple, limit: int, offset: int
    ) -> tuple[Node, ...]:
        ids = self._nodes if type is None else self._by_type.get(type, {})
        found: list[Node] = []
        skip = offset
        for nid in ids:
            rec = self._nodes[nid]
            if conditions and not matches(rec.properties(), conditions):
                continue
            if skip:
                skip -= 1
                continue
            found.append(self._snapshot(nid, rec))
            if len(found) == limit:
                break
        return tuple(found)

    def _edges(self, nid: int, edge_type: str | None, direction: str) -> tuple[Edge, ...]:
        found: dict[tuple[int, int, str], _EdgeRec] = {}
        if direction != "in":
            for type, nbrs in self._out.get(nid, {}).items():
                if edge_type is None or type == edge_type:
                    found.update(((nid, dst, type), e) for dst, e in nbrs.items())
        if direction != "out":
            for type, nbrs in self._in.get(nid, {}).items():
                if edge_type is None or type == edge_type:
                    found.update(((src, nid, type), e) for src, e in nbrs.items())
        return tuple(Edge(*k, found[k].props, found[k].weight) for k in sorted(found))

    def _neighbours(self, nid: int, edge_type: str | None, direction: str) -> tuple[int, ...]:
        return tuple(sorted(set(self._step(nid, edge_type, direction))))

    def _k_hop(
        self, nid: int, k: int, edge_type: str | None, direction: str
    ) -> tuple[tuple[int, int], ...]:
        dist = {nid: 0}
        frontier = [nid]
        for d in range(1, k + 1):
            nxt = []
            for u in frontier:
                for v in self._step(u, edge_type, direction):
                    if v not in dist:
                        dist[v] = d
                        nxt.append(v)
            if not nxt:
                break
            frontier = nxt
        return tuple(sorted(dist.items()))

    def _shortest_path(
        self, src: int, dst: int, edge_type: str | None, direction: str, max_depth: int
    ) -> tuple[int, ...] | None:
        # breadth-first levels until dst is reached
        levels: list[set[int]] = [{src}]
        seen = {src}
        while dst not in levels[-1]:
            if len(levels) > max_depth:
                return None
            nxt = set()
            for u in levels[-1]:
                for v in self._step(u, edge_type, direction):
                    if v not in seen:
                        seen.add(v)
                        nxt.add(v)
            if not nxt:
                return None
            levels.append(nxt)
        # keep, level by level backwards, the nodes that still lead to dst ...
        depth = len(levels) - 1
        on_path: list[set[int]] = [set() for _ in levels]
        on_path[depth] = {dst}
        for i in range(depth - 1, 0, -1):
            ahead = on_path[i + 1]
            on_path[i] = {
                u for u in levels[i] if any(v in ahead for v in self._step(u, edge_type, direction))
            }
        # ... then walk forwards taking the smallest id each time: the
        # lexicographically smallest shortest path
        path = [src]
        for i in range(1, depth + 1):
            path.append(
                min(v for v in self._step(path[-1], edge_type, direction) if v in on_path[i])
            )
        return tuple(path)

    def _step(self, nid: int, edge_type: str | None, direction: str) -> Iterator[int]:
        """Neighbour ids of ``nid``, possibly repeated, in no particular order."""
        sides = (
            (self._out, self._in)
            if direction == "both"
            else ((self._out,) if direction == "out" else (self._in,))
        )
        for adjacency in sides:
            by_type = adjacency.get(nid)
            if not by_type:
                continue
            if edge_type is None:
                for nbrs in by_type.values():
                    yield from nbrs
            elif (nbrs := by_type.get(edge_type)) is not None:
                yield from nbrs

    def count_nodes(self, type: str | None = None) -> int:
        if type is None:
            return len(self._nodes)
        return len(self._by_type.get(check_name(type, "node type"), ()))

    def count_edges(self, type: str | None = None) -> int:
        if type is None:
            return self._n_edges
        return self._edges_by_type.get(check_name(type, "edge type"), 0)

    def stats(self) -> GraphStats:
        return GraphStats(
            tick=self._tick,
            nodes=len(self._nodes),
            edges=self._n_edges,
            pinned_nodes=self._pinned_nodes,
            pinned_edges=self._pinned_edges,
            max_nodes=self._max_nodes,
            max_edges=self._max_edges,
            evicted_nodes=self._evicted_nodes,
            evicted_edges=self._evicted_edges,
            nodes_by_type={t: len(ids) for t, ids in self._by_type.items()},
            edges_by_type=dict(self._edges_by_type),
        )

    # --- checkpoints ---------------------------------------------------------------

    def export_state(self) -> State:
        """Nodes, edges, clock and counters (see :mod:`._memory_state`)."""
        return graph_state(self)

    def import_state(self, state: State) -> None:
        """Replace the content with a :meth:`export_state`; capacities and pinned types stay."""
        load_graph_state(self, state)

    def __repr__(self) -> str:
        return (
            f"InMemoryKnowledgeGraph(nodes={len(self._nodes)}/{self._max_nodes}, "
            f"edges={self._n_edges}/{self._max_edges}, tick={self._tick})"
        )
