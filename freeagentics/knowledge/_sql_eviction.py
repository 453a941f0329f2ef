"""Capacity census and eviction of :class:`~freeagentics.knowledge._sql.SqlKnowledgeGraph`.

The contract's eviction order in SQL: the least recently updated nodes or edges of
types that are not pinned, oldest ``updated_tick`` first and then by key (index
``(graph_id, updated_tick, id)``), never those written at the current tick. Every
function runs inside the caller's write transaction, so a refused or failed write
evicts nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from freeagentics.knowledge._sql_queries import ID_CHUNK, chunks, code_point_order
from freeagentics.storage.tables import knowledge_edges as E
from freeagentics.storage.tables import knowledge_nodes as N

__all__ = ["census", "delete_edges", "delete_nodes", "evict_edges", "evict_nodes"]


def census(
    conn: sa.Connection, table: sa.Table, graph_id: int, pinned: frozenset[str], tick: int
) -> tuple[int, int, int]:
    """``(total, pinned, evictable written at tick)`` rows of ``table`` in the graph."""
    is_pinned = table.c.type.in_(sorted(pinned))
    fresh = sa.and_(~is_pinned, table.c.updated_tick == tick)
    query = sa.select(
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(sa.case((is_pinned, 1), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(sa.case((fresh, 1), else_=0)), 0),
    ).where(table.c.graph_id == graph_id)
    total, n_pinned, n_fresh = (int(v) for v in conn.execute(query).one())
    return total, n_pinned, n_fresh


def evict_nodes(
    conn: sa.Connection, graph_id: int, pinned: frozenset[str], tick: int, excess: int
) -> tuple[int, int]:
    """Remove the ``excess`` least recently updated evictable nodes (and their edges);
    return ``(nodes, edges)`` removed."""
    if excess <= 0:
        return 0, 0
    victims = list(
        conn.execute(
            sa.select(N.c.id)
            .where(
                N.c.graph_id == graph_id,
                N.c.type.not_in(sorted(pinned)),
                N.c.updated_tick < tick,
            )
            .order_by(N.c.updated_tick, N.c.id)
            .limit(excess)
        ).scalars()
    )
    return len(victims), delete_nodes(conn, graph_id, victims)


def delete_nodes(conn: sa.Connection, graph_id: int, ids: Sequence[int]) -> int:
    """Delete nodes and their edges; return the number of edges deleted."""
    edges = 0
    for part in chunks(ids, ID_CHUNK):
        for end in (E.c.src, E.c.dst):  # a self-loop goes with the first
            result = conn.execute(sa.delete(E).where(E.c.graph_id == graph_id, end.in_(part)))
            edges += result.rowcount
        conn.execute(sa.delete(N).where(N.c.graph_id == graph_id, N.c.id.in_(part)))
    return edges


def evict_edges(
    conn: sa.Connection,
    graph_id: int,
    pinned: frozenset[str],
    tick: int,
    excess: int,
    dialect: str,
) -> int:
    """Remove the ``excess`` least recently updated evictable edges; return how many."""
    if excess <= 0:
        return 0
    victims = conn.execute(
        sa.select(E.c.src, E.c.dst, E.c.type)
        .where(
            E.c.graph_id == graph_id,
            E.c.type.not_in(sorted(pinned)),
            E.c.updated_tick < tick,
        )
        .order_by(E.c.updated_tick, E.c.src, E.c.dst, code_point_order(E.c.type, dialect))
        .limit(excess)
    ).all()
    delete_edges(conn, graph_id, [(s, d, t) for s, d, t in victims])
    return len(victims)


def delete_edges(conn: sa.Connection, graph_id: int, keys: list[tuple[int, int, str]]) -> None:
    """Delete the edges ``(src, dst, type)`` of ``keys`` with one executemany."""
    if keys:
        stmt = sa.delete(E).where(
            E.c.graph_id == graph_id,
            E.c.src == sa.bindparam("s"),
            E.c.dst == sa.bindparam("d"),
            E.c.type == sa.bindparam("t"),
        )
        conn.execute(stmt, [{"s": s, "d": d, "t": t} for s, d, t in keys])
