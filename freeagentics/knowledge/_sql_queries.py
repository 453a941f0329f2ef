"""SQL statements of :class:`~freeagentics.knowledge._sql.SqlKnowledgeGraph`, built per dialect.

Kept apart from the store so that the store reads as the contract's logic and the
dialect differences sit in one place:

* batch upserts are ``INSERT ... ON CONFLICT DO UPDATE`` (the SQLite and PostgreSQL
  dialect inserts) executed once with many parameter rows; the property merge is
  ``properties || excluded.properties`` on JSONB and ``json_patch`` on SQLite (both a
  shallow merge, which is the contract's merge for flat properties);
* string order: PostgreSQL sorts and compares under ``COLLATE "C"`` (code points, as
  Python does) whatever the database collation; SQLite's default ``BINARY`` already does;
* breadth-first distances come from one recursive CTE (:func:`k_hop_select`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB

from freeagentics.knowledge._types import Node
from freeagentics.storage.tables import knowledge_edges as E
from freeagentics.storage.tables import knowledge_nodes as N

__all__ = [
    "ID_CHUNK",
    "NODE_COLUMNS",
    "PAIR_CHUNK",
    "chunks",
    "code_point_order",
    "edge_upsert",
    "k_hop_select",
    "node_of_row",
    "node_upsert",
]

#: the node columns in :class:`Node`'s field order (see :func:`node_of_row`)
NODE_COLUMNS = (N.c.id, N.c.type, N.c.key, N.c.properties, N.c.created_tick, N.c.updated_tick)
ID_CHUNK = 1000  # ids per IN (...) list: far below SQLite's bound-parameter limit
PAIR_CHUNK = 400  # (src, dst) pairs per row-value IN list


def node_of_row(row: Any) -> Node:
    """The :class:`Node` of a row selected with :data:`NODE_COLUMNS`."""
    return Node(int(row[0]), row[1], row[2], row[3], int(row[4]), int(row[5]))


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def code_point_order(column: sa.ColumnElement, dialect: str) -> sa.ColumnElement:
    """``column`` ordered by code point, as Python orders ``str``."""
    return column.collate("C") if dialect == "postgresql" else column


def _json_param(dialect: str) -> sa.ColumnElement:
    """The ``props`` parameter: JSON text we encoded ourselves (see ``_sql_json``)."""
    param = sa.bindparam("props", type_=sa.Text)
    return sa.cast(param, JSONB) if dialect == "postgresql" else param


def _merge(dialect: str, old: sa.ColumnElement, new: sa.ColumnElement) -> sa.ColumnElement:
    if dialect == "postgresql":
        return old.op("||")(new)
    return sa.func.json_patch(old, new)


def _insert(dialect: str, table: sa.Table) -> Any:
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def node_upsert(dialect: str) -> sa.Insert:
    """Upsert of one node per parameter row: ``g, id, type, key, props, tick``.

    ``id`` is used only when the node is created; an existing ``(type, key)`` keeps its id.
    """
    stmt = _insert(dialect, N).values(
        graph_id=sa.bindparam("g"),
        id=sa.bindparam("id"),
        type=sa.bindparam("type"),
        key=sa.bindparam("key"),
        properties=_json_param(dialect),
        created_tick=sa.bindparam("tick"),
        updated_tick=sa.bindparam("tick"),
    )
    return stmt.on_conflict_do_update(
        index_elements=[N.c.graph_id, N.c.type, N.c.key],
        set_={
            "properties": _merge(dialect, N.c.properties, stmt.excluded.properties),
            "updated_tick": stmt.excluded.updated_tick,
        },
    )


def edge_upsert(dialect: str) -> sa.Insert:
    """Upsert of one edge per parameter row: ``g, src, dst, type, props, weight, tick``."""
    stmt = _insert(dialect, E).values(
        graph_id=sa.bindparam("g"),
        src=sa.bindparam("src"),
        dst=sa.bindparam("dst"),
        type=sa.bindparam("type"),
        properties=_json_param(dialect),
        weight=sa.bindparam("weight"),
        created_tick=sa.bindparam("tick"),
        updated_tick=sa.bindparam("tick"),
    )
    return stmt.on_conflict_do_update(
        index_elements=[E.c.graph_id, E.c.src, E.c.dst, E.c.type],
        set_={
            "properties": _merge(dialect, E.c.properties, stmt.excluded.properties),
            "weight": stmt.excluded.weight,
            "updated_tick": stmt.excluded.updated_tick,
        },
    )


def k_hop_select(
    graph_id: int, start: int, k: int, edge_type: str | None, direction: str
) -> sa.Select:
    """``(id, depth)`` of every node within ``k`` hops of ``start``, depth = BFS distance.

    The recursive CTE walks ``(node, depth)`` pairs; ``UNION`` drops repeats, so each
    level holds each node at most once and the walk costs ``O(k * edges reached)``
    whatever the number of paths. A node's BFS distance is its smallest depth.
    """
    seed = sa.select(
        sa.cast(sa.literal(start), sa.BigInteger).label("id"),
        sa.cast(sa.literal(0), sa.Integer).label("depth"),
    )
    walk = seed.cte("walk", recursive=True)
    e = E.alias("e")
    if direction == "out":
        hop, follow = e.c.dst, e.c.src == walk.c.id
    elif direction == "in":
        hop, follow = e.c.src, e.c.dst == walk.c.id
    else:
        # either end may be the current node; the hop is the other end (itself for a loop)
        hop = sa.case((e.c.src == walk.c.id, e.c.dst), else_=e.c.src)
        follow = sa.or_(e.c.src == walk.c.id, e.c.dst == walk.c.id)
    on = [e.c.graph_id == graph_id, follow]
    if edge_type is not None:
        on.append(e.c.type == edge_type)
    step = (
        sa.select(hop, walk.c.depth + 1)
        .select_from(walk.join(e, sa.and_(*on)))
        .where(walk.c.depth < k)
    )
    walk = walk.union(step)
    return sa.select(walk.c.id, sa.func.min(walk.c.depth).label("depth")).group_by(walk.c.id)
