"""The knowledge-graph queries a service runs by name, with plain-data results.

A query crosses to wherever the simulation runs as its name and keyword arguments (a
function cannot cross a process), so the queries a caller may run are a fixed table,
:data:`QUERIES`; each takes the store and keyword arguments and returns maps and lists
(nodes and edges as maps of their fields), never the store's own objects.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from freeagentics.errors import ConfigurationError
from freeagentics.knowledge import Edge, GraphStats, KnowledgeStore, Node

__all__ = ["QUERIES", "edge_data", "node_data", "run_query"]


def node_data(node: Node) -> dict[str, Any]:
    """A node as a map of its fields."""
    return {
        "id": node.id,
        "type": node.type,
        "key": node.key,
        "properties": dict(node.properties),
        "created_tick": node.created_tick,
        "updated_tick": node.updated_tick,
    }


def edge_data(edge: Edge) -> dict[str, Any]:
    """An edge as a map of its fields."""
    return {
        "src": edge.src,
        "dst": edge.dst,
        "type": edge.type,
        "properties": dict(edge.properties),
        "weight": edge.weight,
    }


def _stats(kg: KnowledgeStore) -> dict[str, Any]:
    stats: GraphStats = kg.stats()
    out = {f.name: getattr(stats, f.name) for f in fields(stats)}
    out["nodes_by_type"], out["edges_by_type"] = (
        dict(stats.nodes_by_type),
        dict(stats.edges_by_type),
    )
    return out


def _find_nodes(
    kg: KnowledgeStore,
    *,
    type: str | None = None,
    where: dict[str, Any] | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    return [node_data(n) for n in kg.find_nodes(type, where, limit=limit, offset=offset)]


def _node(kg: KnowledgeStore, *, node_id: int) -> dict[str, Any]:
    return node_data(kg.get_node(node_id))


def _neighbours(
    kg: KnowledgeStore, *, node_id: int, edge_type: str | None = None, direction: str = "out"
) -> dict[str, Any]:
    ids = kg.neighbours(node_id, edge_type, direction)
    edges = kg.edges(node_id, edge_type, direction)
    return {"neighbours": list(ids), "edges": [edge_data(e) for e in edges]}


def _k_hop(
    kg: KnowledgeStore,
    *,
    node_id: int,
    k: int = 2,
    edge_type: str | None = None,
    direction: str = "out",
) -> dict[int, int]:
    return dict(kg.k_hop(node_id, k, edge_type, direction))


def _shortest_path(
    kg: KnowledgeStore,
    *,
    src: int,
    dst: int,
    edge_type: str | None = None,
    direction: str = "out",
    max_depth: int | None = None,
) -> list[int] | None:
    options = {} if max_depth is None else {"max_depth": max_depth}
    path = kg.shortest_path(src, dst, edge_type, direction=direction, **options)
    return None if path is None else list(path)


#: the queries :meth:`SimulationService.knowledge` runs, by name
QUERIES: dict[str, Callable[..., Any]] = {
    "find_nodes": _find_nodes,
    "node": _node,
    "neighbours": _neighbours,
    "k_hop": _k_hop,
    "shortest_path": _shortest_path,
    "stats": _stats,
}


def run_query(kg: KnowledgeStore, name: str, params: dict[str, Any]) -> Any:
    """Run query ``name`` with ``params`` on ``kg``; a :class:`ConfigurationError` names
    an unknown query or arguments it does not take."""
    query = QUERIES.get(name)
    if query is None:
        raise ConfigurationError(f"unknown knowledge query {name!r}; choose from {sorted(QUERIES)}")
    try:
        inspect.signature(query).bind(kg, **params)
    except TypeError as exc:
        raise ConfigurationError(f"knowledge query {name}: {exc}") from None
    return query(kg, **params)
