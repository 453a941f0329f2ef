"""An :class:`InMemoryKnowledgeGraph`'s exact content as a :class:`~freeagentics.state.State`.

Ids, ticks and weights are arrays; types, keys and properties (JSON scalars by the
store's contract) one JSON document stored as bytes. The indexes (by type, by key,
adjacency, eviction buckets) are rebuilt from them in their original orders (kept as
permutations); so are the counters, except the write version and the eviction
totals, which are kept. The query cache starts empty.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np

from freeagentics.state import CheckpointError, State

if TYPE_CHECKING:
    from freeagentics.knowledge._memory import InMemoryKnowledgeGraph

__all__ = ["graph_state", "load_graph_state"]


def graph_state(graph: InMemoryKnowledgeGraph) -> State:
    node_types = list(graph._by_type)
    edge_types = list(graph._edges_by_type)
    type_code = {t: i for i, t in enumerate(node_types)}
    edge_code = {t: i for i, t in enumerate(edge_types)}
    nodes = graph._nodes
    edges = [
        (src, dst, edge_code[type], erec)
        for src, by_type in graph._out.items()
        for type, nbrs in by_type.items()
        for dst, erec in nbrs.items()
    ]
    position = {(e[0], e[1], e[2]): i for i, e in enumerate(edges)}
    in_order = [
        position[(src, dst, edge_code[type])]
        for dst, by_type in graph._in.items()
        for type, srcs in by_type.items()
        for src in srcs
    ]
    edge_lru = [
        position[(src, dst, edge_code[type])]
        for bucket in graph._edge_lru.values()
        for src, dst, type in bucket
    ]
    node_lru = [nid for bucket in graph._node_lru.values() for nid in bucket]
    text = {
        "keys": [rec.key for rec in nodes.values()],
        "props": [rec.properties() for rec in nodes.values()],
        "edge_props": [e[3].props for e in edges],
    }
    blob = json.dumps(text, separators=(",", ":"), allow_nan=False).encode()
    arrays = {
        "node_id": np.fromiter(nodes, np.int64, len(nodes)),
        "node_type": np.array([type_code[r.type] for r in nodes.values()], np.int64),
        "node_created": np.array([r.created for r in nodes.values()], np.int64),
        "node_updated": np.array([r.updated for r in nodes.values()], np.int64),
        "edge_src": np.array([e[0] for e in edges], np.int64),
        "edge_dst": np.array([e[1] for e in edges], np.int64),
        "edge_type": np.array([e[2] for e in edges], np.int64),
        "edge_weight": np.array([e[3].weight for e in edges], np.float64),
        "edge_updated": np.array([e[3].updated for e in edges], np.int64),
        "edge_in_order": np.array(in_order, np.int64),
        "edge_lru_order": np.array(edge_lru, np.int64),
        "node_lru_order": np.array(node_lru, np.int64),
        "text": np.frombuffer(blob, np.uint8).copy(),
    }
    values = {
        "node_types": node_types,
        "edge_types": edge_types,
        "tick": graph._tick,
        "version": graph._version,
        "next_id": graph._next_id,
        "evicted_nodes": graph._evicted_nodes,
        "evicted_edges": graph._evicted_edges,
    }
    return State(arrays, values)


def load_graph_state(graph: InMemoryKnowledgeGraph, state: State) -> None:
    """Replace ``graph``'s content (its capacities and pinned types stay its own)."""
    from freeagentics.knowledge._memory import _EdgeRec, _NodeRec

    node_types = state.value("node_types", list)
    edge_types = state.value("edge_types", list)
    ids = state.array("node_id", np.int64, 1)
    n_type = state.array("node_type", np.int64, 1)
    created = state.array("node_created", np.int64, 1)
    updated = state.array("node_updated", np.int64, 1)
    src, dst = state.array("edge_src", np.int64, 1), state.array("edge_dst", np.int64, 1)
    e_type = state.array("edge_type", np.int64, 1)
    weight = state.array("edge_weight", np.float64, 1)
    e_updated = state.array("edge_updated", np.int64, 1)
    in_order = state.array("edge_in_order", np.int64, 1)
    edge_lru = state.array("edge_lru_order", np.int64, 1)
    node_lru = state.array("node_lru_order", np.int64, 1)
    try:
        text = json.loads(state.array("text", np.uint8, 1).tobytes())
        keys, props, edge_props = text["keys"], text["props"], text["edge_props"]
    except (ValueError, TypeError, KeyError):
        raise CheckpointError("knowledge graph text is not valid") from None
    n, m = ids.size, src.size
    if not all(len(x) == n for x in (n_type, created, updated, keys, props)) or not all(
        len(x) == m for x in (dst, e_type, weight, e_updated, edge_props)
    ):
        raise CheckpointError("knowledge graph arrays disagree in length")
    if (n and (n_type.min() < 0 or n_type.max() >= len(node_types))) or (
        m and (e_type.min() < 0 or e_type.max() >= len(edge_types))
    ):
        raise CheckpointError("knowledge graph names a type it does not list")
    if n > graph._max_nodes or m > graph._max_edges:
        raise CheckpointError("knowledge graph holds more than its capacity")
    if np.unique(ids).size != n or not set(src.tolist()) | set(dst.tolist()) <= set(ids.tolist()):
        raise CheckpointError("knowledge graph ids are repeated or edges name unknown nodes")

    fresh = type(graph)(
        max_nodes=graph._max_nodes,
        max_edges=graph._max_edges,
        pinned_types=graph._pinned_types,
        pinned_edge_types=graph._pinned_edge_types,
        cache_size=graph._cache._maxsize,
    )
    for t in node_types:
        fresh._by_type[t] = {}
        fresh._by_key[t] = {}
    for i in np.argsort(ids, kind="stable"):
        nid, kind = int(ids[i]), node_types[int(n_type[i])]
        rec = _NodeRec(kind, keys[i], (), None, int(created[i]))
        rec.props, rec.updated = dict(props[i]), int(updated[i])
        fresh._nodes[nid] = rec
        fresh._by_type[kind][nid] = None
        fresh._by_key[kind][rec.key] = nid
        if kind in fresh._pinned_types:
            fresh._pinned_nodes += 1
    row_of = {int(nid): i for i, nid in enumerate(ids)}
    evictable = [i for i in range(n) if node_types[int(n_type[i])] not in fresh._pinned_types]
    if sorted(row_of.get(int(x), -1) for x in node_lru) != evictable:
        raise CheckpointError("knowledge graph eviction order does not list its evictable nodes")
    for nid in node_lru.tolist():
        fresh._node_lru.setdefault(int(updated[row_of[nid]]), {})[nid] = None
    evictable = [i for i in range(m) if edge_types[int(e_type[i])] not in fresh._pinned_edge_types]
    if sorted(in_order.tolist()) != list(range(m)) or sorted(edge_lru.tolist()) != evictable:
        raise CheckpointError("knowledge graph edge orders are not permutations of its edges")
    for t in edge_types:
        fresh._edges_by_type[t] = 0
    for i in range(m):
        s, d, kind = int(src[i]), int(dst[i]), edge_types[int(e_type[i])]
        erec = _EdgeRec(dict(edge_props[i]), float(weight[i]), int(e_updated[i]))
        fresh._out.setdefault(s, {}).setdefault(kind, {})[d] = erec
        fresh._edges_by_type[kind] += 1
        if kind in fresh._pinned_edge_types:
            fresh._pinned_edges += 1
    for i in in_order.tolist():
        s, d, kind = int(src[i]), int(dst[i]), edge_types[int(e_type[i])]
        fresh._in.setdefault(d, {}).setdefault(kind, {})[s] = fresh._out[s][kind][d]
    for i in edge_lru.tolist():
        key = (int(src[i]), int(dst[i]), edge_types[int(e_type[i])])
        fresh._edge_lru.setdefault(int(e_updated[i]), {})[key] = None
    fresh._n_edges = m
    fresh._tick = state.value("tick", int)
    fresh._version = state.value("version", int)
    fresh._next_id = state.value("next_id", int)
    fresh._evicted_nodes = state.value("evicted_nodes", int)
    fresh._evicted_edges = state.value("evicted_edges", int)
    graph.__dict__.update(fresh.__dict__)
