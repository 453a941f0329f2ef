"""The knowledge graph of a simulation: filter nodes, an agent's node, neighbours, k-hop,
shortest path, stats.

Every read says which ticks it is from (``tick``, the simulation's; ``as_of_tick``, the
one the graph reflects): the graph is folded from the simulation every
``knowledge_every`` ticks, and its node ids are its own, not agent ids. Each route runs
one of the service's named queries (the graph lives wherever the simulation runs).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query

from freeagentics.errors import ConfigurationError
from freeagentics.knowledge import MAX_HOPS
from freeagentics.server.api.params import MAX_ID, AgentId, Limit, NodeId, Offset, SimId
from freeagentics.server.api.schemas import (
    EdgeOut,
    GraphStatsOut,
    KHopOut,
    NeighboursOut,
    NodeOut,
    NodePage,
    NodeRead,
    PathOut,
    error_responses,
)
from freeagentics.server.deps import ServiceDep, Viewer

__all__ = ["router"]

ERRORS = error_responses(401, 404, 422)
router = APIRouter(prefix="/simulations/{sim_id}/knowledge", tags=["knowledge"], responses=ERRORS)

Direction = Annotated[Literal["out", "in", "both"], Query(description="Edge direction")]
EdgeType = Annotated[str | None, Query(min_length=1, max_length=64)]
WHERE_HELP = 'JSON object of filters, e.g. {"kind": "explorer", "energy__gt": 3}'


def _where(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ConfigurationError(f"where: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ConfigurationError(f"where: expected a JSON object, got {type(value).__name__}")
    return value


@router.get("/nodes", response_model=NodePage)
def find_nodes(
    sim_id: SimId,
    service: ServiceDep,
    _: Viewer,
    type: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    where: Annotated[str | None, Query(max_length=4_096, description=WHERE_HELP)] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> NodePage:
    """Nodes of a type matching property filters, ascending id."""
    filters = _where(where)
    found, ticks = service.knowledge(
        sim_id, "find_nodes", type=type, where=filters, limit=limit, offset=offset
    )
    return NodePage(items=[NodeOut(**n) for n in found], offset=offset, limit=limit, **ticks)


@router.get("/nodes/{node_id}", response_model=NodeRead)
def get_node(sim_id: SimId, node_id: NodeId, service: ServiceDep, _: Viewer) -> NodeRead:
    """One node (by the graph's node id)."""
    node, ticks = service.knowledge(sim_id, "node", node_id=node_id)
    return NodeRead(**node, **ticks)


@router.get("/agents/{agent_id}", response_model=NodeRead)
def get_agent_node(sim_id: SimId, agent_id: AgentId, service: ServiceDep, _: Viewer) -> NodeRead:
    """The node of an agent (by agent id): its summary as of the graph's last fold.

    404 naming the agent when the graph has no node for it: no such agent, or one
    added since the last fold.
    """
    node, ticks = service.knowledge_agent(sim_id, agent_id)
    return NodeRead(**node, **ticks)


@router.get("/nodes/{node_id}/neighbours", response_model=NeighboursOut)
def neighbours(
    sim_id: SimId,
    node_id: NodeId,
    service: ServiceDep,
    _: Viewer,
    edge_type: EdgeType = None,
    direction: Direction = "out",
) -> NeighboursOut:
    """Nodes one edge away, and the edges."""
    found, ticks = service.knowledge(
        sim_id, "neighbours", node_id=node_id, edge_type=edge_type, direction=direction
    )
    edges = [EdgeOut(**e) for e in found["edges"]]
    return NeighboursOut(node=node_id, neighbours=found["neighbours"], edges=edges, **ticks)


@router.get("/nodes/{node_id}/k-hop", response_model=KHopOut)
def k_hop(
    sim_id: SimId,
    node_id: NodeId,
    service: ServiceDep,
    _: Viewer,
    k: Annotated[int, Query(ge=0, le=MAX_HOPS)] = 2,
    edge_type: EdgeType = None,
    direction: Direction = "out",
) -> KHopOut:
    """Breadth-first distance of every node within ``k`` hops."""
    found, ticks = service.knowledge(
        sim_id, "k_hop", node_id=node_id, k=k, edge_type=edge_type, direction=direction
    )
    return KHopOut(node=node_id, k=k, distances={str(n): d for n, d in found.items()}, **ticks)


@router.get("/path", response_model=PathOut)
def shortest_path(
    sim_id: SimId,
    service: ServiceDep,
    _: Viewer,
    src: Annotated[int, Query(ge=1, le=MAX_ID)],
    dst: Annotated[int, Query(ge=1, le=MAX_ID)],
    edge_type: EdgeType = None,
    direction: Direction = "out",
    max_depth: Annotated[int, Query(ge=0, le=MAX_HOPS)] = MAX_HOPS,
) -> PathOut:
    """The fewest-hop path from ``src`` to ``dst`` (``path: null`` when there is none)."""
    path, ticks = service.knowledge(
        sim_id,
        "shortest_path",
        src=src,
        dst=dst,
        edge_type=edge_type,
        direction=direction,
        max_depth=max_depth,
    )
    return PathOut(src=src, dst=dst, path=path, **ticks)


@router.get("/stats", response_model=GraphStatsOut)
def stats(sim_id: SimId, service: ServiceDep, _: Viewer) -> GraphStatsOut:
    """Node and edge counts by type, and capacity, as of ``as_of_tick``."""
    s, ticks = service.knowledge(sim_id, "stats")
    return GraphStatsOut(
        **ticks,
        nodes=s["nodes"],
        edges=s["edges"],
        max_nodes=s["max_nodes"],
        max_edges=s["max_edges"],
        nodes_by_type=s["nodes_by_type"],
        edges_by_type=s["edges_by_type"],
    )
