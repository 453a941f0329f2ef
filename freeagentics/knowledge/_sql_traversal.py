"""Traversals of :class:`~freeagentics.knowledge._sql.SqlKnowledgeGraph` in SQL.

* ``find_near``: the k-hop neighbourhood (one recursive CTE) joined to its nodes by
  primary key, then filtered, in one statement (:func:`near_query`);
* neighbours and shortest paths: a frontier query per chunk of ids and direction
  (:func:`frontier_step`), level by level for the BFS of :func:`shortest_path`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from freeagentics.knowledge._sql_json import where_clauses
from freeagentics.knowledge._sql_queries import ID_CHUNK, NODE_COLUMNS, chunks, k_hop_select
from freeagentics.storage.tables import knowledge_edges as E
from freeagentics.storage.tables import knowledge_nodes as N

__all__ = ["frontier_step", "near_query", "shortest_path"]


def near_query(
    graph_id: int,
    dialect: str,
    nid: int,
    k: int,
    conditions: tuple,
    type: str | None,
    edge_type: str | None,
    direction: str,
    limit: int,
) -> sa.Select:
    """Nodes within ``k`` hops of ``nid`` of ``type`` matching ``conditions``, by id."""
    # from the neighbourhood to its nodes by primary key, then filter those few rows
    near = k_hop_select(graph_id, nid, k, edge_type, direction).subquery("near")
    query = sa.select(*NODE_COLUMNS)
    if dialect == "postgresql":
        # id = ANY(array of the neighbourhood): an index condition whatever the
        # planner guesses about the filter's selectivity
        agg = sa.select(sa.func.array_agg(near.c.id)).scalar_subquery()
        ids = sa.cast(agg, ARRAY(sa.BigInteger))  # an array, not an ANY (subquery)
        query = query.where(N.c.graph_id == graph_id, N.c.id == sa.any_(ids))
    else:
        on = sa.and_(N.c.graph_id == graph_id, N.c.id == near.c.id)
        query = query.select_from(near.join(N, on))
    query = query.where(*where_clauses(dialect, N.c.properties, conditions, indexable=False))
    if type is not None:
        query = query.where(N.c.type == type)
    return query.order_by(N.c.id).limit(limit)


def frontier_step(
    conn: sa.Connection,
    graph_id: int,
    frontier: Sequence[int],
    edge_type: str | None,
    direction: str,
) -> dict[int, set[int]]:
    """Neighbours of each node of ``frontier``: one SQL query per chunk and direction."""
    found: dict[int, set[int]] = {u: set() for u in frontier}
    sides = (("out", E.c.src, E.c.dst), ("in", E.c.dst, E.c.src))
    for side, near, far in sides:
        if direction not in (side, "both"):
            continue
        for part in chunks(sorted(frontier), ID_CHUNK):
            query = sa.select(near, far).where(E.c.graph_id == graph_id, near.in_(part))
            if edge_type is not None:
                query = query.where(E.c.type == edge_type)
            for u, v in conn.execute(query):
                found[int(u)].add(int(v))
    return found


def shortest_path(
    conn: sa.Connection,
    graph_id: int,
    src: int,
    dst: int,
    edge_type: str | None,
    direction: str,
    max_depth: int,
) -> tuple[int, ...] | None:
    """Level-by-level BFS from ``src``, one frontier query per level; the adjacency
    it fetched then yields the lexicographically smallest shortest path."""
    levels: list[set[int]] = [{src}]
    steps: list[dict[int, set[int]]] = []  # steps[i]: neighbours of levels[i]
    seen = {src}
    while dst not in levels[-1]:
        if len(levels) > max_depth:
            return None
        step = frontier_step(conn, graph_id, sorted(levels[-1]), edge_type, direction)
        steps.append(step)
        nxt = {v for vs in step.values() for v in vs} - seen
        if not nxt:
            return None
        seen |= nxt
        levels.append(nxt)
    # keep, level by level backwards, the nodes that still lead to dst ...
    depth = len(levels) - 1
    on_path: list[set[int]] = [set() for _ in levels]
    on_path[depth] = {dst}
    for i in range(depth - 1, -1, -1):
        on_path[i] = {u for u in levels[i] if steps[i][u] & on_path[i + 1]}
    # ... then walk forwards taking the smallest id each time
    path = [src]
    for i in range(1, depth + 1):
        path.append(min(steps[i - 1][path[-1]] & on_path[i]))
    return tuple(path)
