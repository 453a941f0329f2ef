"""``SqlKnowledgeGraph``: the :class:`KnowledgeStore` contract on SQLite or PostgreSQL.

The graph lives in the ``knowledge_graphs`` / ``knowledge_nodes`` / ``knowledge_edges``
tables of :mod:`freeagentics.storage.tables`; several graphs share them, told apart by
``graph_id``. The store gives the same results as
:class:`~freeagentics.knowledge.InMemoryKnowledgeGraph` for the same calls: the same
ids, orders, errors and evictions (the contract suite runs against both).

How the contract maps onto SQL:

* ids come from ``knowledge_graphs.next_node_id``, read and advanced under a row lock
  (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite serialises writers itself), so
  they start at 1 and are never reused, across store instances and restarts;
* the clock is ``knowledge_graphs.tick``, loaded on open and written by
  :meth:`set_tick`;
* a batch upsert reads which keys exist, checks capacity, then writes every distinct
  row with one executemany ``INSERT ... ON CONFLICT DO UPDATE``; eviction selects the
  victims with ``ORDER BY updated_tick, id LIMIT excess`` (index
  ``(graph_id, updated_tick, id)``) in the same transaction, so a refused or failed
  write changes nothing;
* ``where`` filters run in SQL (:mod:`._sql_json`), ``k_hop`` is one recursive CTE,
  ``shortest_path`` a level-by-level BFS with one SQL frontier query per level;
* on PostgreSQL every statement is planned for its own values (our IN lists defeat
  generic plans), and a table this instance has grown to twice its size at the last
  count is analysed at once: plans made while it was empty (the foreign-key checks'
  cached plans among them) otherwise stayed in use until autovacuum got round to it,
  turning a 50 000-edge upsert from seconds into minutes.

The statements sit by concept: eviction and the capacity census in
:mod:`._sql_eviction`, neighbourhoods and paths in :mod:`._sql_traversal`, the
dialect-specific upserts and CTE in :mod:`._sql_queries`, property filters in
:mod:`._sql_json`.

Sharing a graph between instances: every instance reads what the others committed,
but two things are per instance. The query cache is invalidated by this instance's
writes only, so another instance's writes can be served stale from it (use
``cache_size=0`` where several instances write one graph). And the node and edge
totals behind the capacity check are counted on open and then kept up to date by
this instance's writes; whenever a write might not fit they are recounted in SQL, but
a graph that another instance grows meanwhile may exceed the capacity until the next
such recount. One writing instance per graph is the intended use.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa

from freeagentics._checks import whole_number_at_least
from freeagentics.errors import ConfigurationError, UnknownIdError
from freeagentics.knowledge._args import (
    check_direction,
    check_hops,
    check_id,
    check_ids,
    check_keys,
    check_name,
    check_page,
    check_tick,
)
from freeagentics.knowledge._cache import QueryCache
from freeagentics.knowledge._filters import parse_where
from freeagentics.knowledge._frontend import StoreFrontEnd
from freeagentics.knowledge._memory import _type_set
from freeagentics.knowledge._sql_eviction import (
    census,
    delete_edges,
    delete_nodes,
    evict_edges,
    evict_nodes,
)
from freeagentics.knowledge._sql_json import encode_properties, where_clauses
from freeagentics.knowledge._sql_queries import (
    ID_CHUNK,
    NODE_COLUMNS,
    PAIR_CHUNK,
    chunks,
    code_point_order,
    edge_upsert,
    k_hop_select,
    node_of_row,
    node_upsert,
)
from freeagentics.knowledge._sql_traversal import frontier_step, near_query, shortest_path
from freeagentics.knowledge._store import DEFAULT_PINNED_EDGE_TYPES, DEFAULT_PINNED_TYPES
from freeagentics.knowledge._types import (
    CapacityError,
    Edge,
    GraphStats,
    Node,
)
from freeagentics.storage.tables import knowledge_edges as E
from freeagentics.storage.tables import knowledge_graphs as G
from freeagentics.storage.tables import knowledge_nodes as N

__all__ = ["SqlKnowledgeGraph"]

#: tables smaller than this are left to autovacuum: any plan is fast on them
ANALYSE_MIN_ROWS = 1000

_TYPE_LENGTH = N.c.type.type.length
_KEY_LENGTH = N.c.key.type.length


def _check_lengths(type: str, keys: Iterable[str] = ()) -> None:
    """The columns are bounded; refuse what PostgreSQL would refuse, on SQLite too."""
    if len(type) > _TYPE_LENGTH:
        raise ConfigurationError(f"type names are at most {_TYPE_LENGTH} characters: {type!r}")
    for key in keys:
        if len(key) > _KEY_LENGTH:
            raise ConfigurationError(f"node keys are at most {_KEY_LENGTH} characters: {key!r}")


class SqlKnowledgeGraph(StoreFrontEnd):
    """A bounded typed property graph in a SQL database, implementing :class:`KnowledgeStore`.

    Args:
        engine: a SQLAlchemy engine on SQLite or PostgreSQL whose database has the
            tables of :mod:`freeagentics.storage.tables` (migrated, or ``create_all``).
        graph_id: an existing graph to open; ``None`` creates a new, empty graph.
        name: the new graph's name (ignored when opening one).
        max_nodes, max_edges, pinned_types, pinned_edge_types, cache_size: as for
            :class:`~freeagentics.knowledge.InMemoryKnowledgeGraph`; they belong to this
            instance, not to the stored graph.

    Types are at most 64 characters and keys at most 256 (the column widths); longer
    ones raise :class:`ConfigurationError`. ``stats().evicted_*`` count this instance's
    evictions. See the module docstring for sharing a graph between instances.
    """

    def __init__(
        self,
        engine: sa.Engine,
        graph_id: int | None = None,
        *,
        name: str | None = None,
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
        self._engine = engine
        self._dialect = engine.dialect.name
        if self._dialect not in ("sqlite", "postgresql"):
            raise ConfigurationError(f"unsupported database {self._dialect!r}")
        self._upsert_node_sql = node_upsert(self._dialect)
        self._upsert_edge_sql = edge_upsert(self._dialect)
        self._version = 0
        self._evicted_nodes = 0
        self._evicted_edges = 0
        with engine.begin() as conn:
            if graph_id is None:
                result = conn.execute(sa.insert(G).values(name=name))
                graph_id = int(result.inserted_primary_key[0])
            graph_id = check_id(graph_id, "graph_id")
            row = conn.execute(sa.select(G.c.tick).where(G.c.id == graph_id)).first()
            if row is None:
                raise UnknownIdError(f"knowledge graph {graph_id} does not exist")
            self._graph_id = graph_id
            self._tick = int(row[0])
            self._n_nodes = self._count(conn, N)
            self._n_edges = self._count(conn, E)
        # rows per table at its last ANALYZE (as far as this instance knows)
        self._analysed = {N.name: self._n_nodes, E.name: self._n_edges}

    # --- configuration and clock -------------------------------------------------

    @property
    def graph_id(self) -> int:
        """The ``knowledge_graphs.id`` of this graph: pass it to reopen the graph."""
        return self._graph_id

    @property
    def engine(self) -> sa.Engine:
        return self._engine

    @property
    def version(self) -> int:
        """Write counter of this instance: changes whenever it may have changed the graph."""
        return self._version

    def set_tick(self, tick: int) -> None:
        tick = check_tick(tick)
        if tick < self._tick:
            raise ConfigurationError(f"tick cannot go back from {self._tick} to {tick}")
        if tick != self._tick:
            with self._write() as conn:
                conn.execute(sa.update(G).where(G.c.id == self._graph_id).values(tick=tick))
            self._tick = tick

    # --- plumbing ----------------------------------------------------------------

    def _read(self) -> sa.Connection:
        # readers need not queue behind writers for SQLite's write lock
        conn = self._engine.connect().execution_options(sqlite_begin="DEFERRED")
        self._plan_per_call(conn)
        return conn

    @contextlib.contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        """A transaction, committed on leaving (rolled back on an exception)."""
        with self._engine.begin() as conn:
            self._plan_per_call(conn)
            yield conn

    def _plan_per_call(self, conn: sa.Connection) -> None:
        # Our statements carry long IN lists of bound values. psycopg prepares a statement
        # seen five times, and PostgreSQL may then settle on a generic plan that re-reads
        # the whole list for every row it scans: 0.5 s instead of 1 ms per 1000 ids.
        if self._dialect == "postgresql":
            conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")

    def _analyse_if_grown(self, table: sa.Table, rows: int) -> None:
        """``ANALYZE`` ``table`` on PostgreSQL once it has doubled (see the module docstring)."""
        if self._dialect != "postgresql" or rows < max(
            ANALYSE_MIN_ROWS, 2 * self._analysed[table.name]
        ):
            return
        with self._write() as conn:
            conn.execute(sa.text(f"ANALYZE {table.name}"))
        self._analysed[table.name] = rows

    def _count(self, conn: sa.Connection, table: sa.Table, type: str | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(table)
        query = query.where(table.c.graph_id == self._graph_id)
        if type is not None:
            query = query.where(table.c.type == type)
        return int(conn.execute(query).scalar_one())

    def _present(self, conn: sa.Connection, ids: Iterable[int]) -> set[int]:
        """Which of ``ids`` are nodes of this graph."""
        found: set[int] = set()
        for part in chunks(sorted(set(ids)), ID_CHUNK):
            query = sa.select(N.c.id).where(N.c.graph_id == self._graph_id, N.c.id.in_(part))
            found.update(conn.execute(query).scalars())
        return found

    def _require(self, node_id: Any) -> int:
        nid = check_id(node_id)

        def compute() -> bool:
            with self._read() as conn:
                return bool(self._present(conn, [nid]))

        if not self._cached(("exists", nid), compute):
            raise UnknownIdError(f"node id {nid} does not exist")
        return nid

    # --- nodes -------------------------------------------------------------------

    def _upsert_nodes(
        self, type: str, keys: list[str], names: tuple[str, ...], rows: list[tuple]
    ) -> list[int]:
        if not keys:
            return []
        _check_lengths(type, keys)
        last: dict[str, int] = {}  # key -> its last row; dict order = first appearance
        for i, key in enumerate(keys):
            last[key] = i
        tick, g = self._tick, self._graph_id
        with self._write() as conn:
            lock = sa.select(G.c.next_node_id).where(G.c.id == g).with_for_update()
            next_id = int(conn.execute(lock).scalar_one())
            existing: dict[str, tuple[int, int]] = {}
            for part in chunks(list(last), ID_CHUNK):
                query = sa.select(N.c.key, N.c.id, N.c.updated_tick).where(
                    N.c.graph_id == g, N.c.type == type, N.c.key.in_(part)
                )
                existing.update((k, (int(i), int(u))) for k, i, u in conn.execute(query))
            new = [k for k in last if k not in existing]
            self._reserve_nodes(conn, type, keys, existing, len(new))
            ids = {k: v[0] for k, v in existing.items()}
            ids.update((k, next_id + j) for j, k in enumerate(new))
            params = [
                {
                    "g": g,
                    "id": ids[k],
                    "type": type,
                    "key": k,
                    "props": encode_properties(dict(zip(names, rows[i], strict=True))),
                    "tick": tick,
                }
                for k, i in last.items()
            ]
            conn.execute(self._upsert_node_sql, params)
            if new:
                conn.execute(
                    sa.update(G).where(G.c.id == g).values(next_node_id=next_id + len(new))
                )
            n_nodes = self._n_nodes + len(new)
            evicted_nodes, evicted_edges = evict_nodes(
                conn, self._graph_id, self._pinned_types, self._tick, n_nodes - self._max_nodes
            )
        self._n_nodes = n_nodes - evicted_nodes
        self._n_edges -= evicted_edges
        self._evicted_nodes += evicted_nodes
        self._evicted_edges += evicted_edges
        self._version += 1
        self._analyse_if_grown(N, self._n_nodes)
        return [ids[k] for k in keys]

    def _reserve_nodes(
        self,
        conn: sa.Connection,
        type: str,
        keys: list[str],
        existing: dict[str, tuple[int, int]],
        added_new: int,
    ) -> None:
        """Raise :class:`CapacityError` unless the write fits after evicting stale nodes."""
        if self._n_nodes + len(keys) <= self._max_nodes:
            return  # fits even if every key is new: skip the exact count
        total, pinned, fresh = census(conn, N, self._graph_id, self._pinned_types, self._tick)
        self._n_nodes = total
        if type in self._pinned_types:
            added = added_new
        else:
            # evictable nodes this write stamps with the current tick become unevictable
            added = added_new + sum(1 for _, u in existing.values() if u != self._tick)
        need = pinned + fresh + added
        if need > self._max_nodes:
            raise CapacityError(
                f"cannot upsert {len(keys)} {type!r} nodes at tick {self._tick}: "
                f"{need} pinned or current-tick nodes would exceed max_nodes={self._max_nodes}"
            )

    def get_node(self, node_id: int) -> Node:
        nid = check_id(node_id)
        return self.get_nodes([nid])[0]

    def get_nodes(self, node_ids: np.ndarray | Sequence[int]) -> list[Node]:
        ids = check_ids(node_ids, "node_ids")
        found: dict[int, Node] = {}
        with self._read() as conn:
            for part in chunks(sorted(set(ids)), ID_CHUNK):
                query = sa.select(*NODE_COLUMNS).where(
                    N.c.graph_id == self._graph_id, N.c.id.in_(part)
                )
                found.update((n.id, n) for n in map(node_of_row, conn.execute(query)))
        for nid in ids:
            if nid not in found:
                raise UnknownIdError(f"node id {nid} does not exist")
        return [found[nid] for nid in ids]

    def node_id(self, type: str, key: str | int) -> int | None:
        type = check_name(type, "node type")
        (key,) = check_keys([key])
        nid = self.node_ids(type, [key])[0]
        return None if nid < 0 else int(nid)

    def node_ids(self, type: str, keys: np.ndarray | Sequence[str | int]) -> np.ndarray:
        type = check_name(type, "node type")
        keys = check_keys(keys)
        index: dict[str, int] = {}
        with self._read() as conn:
            for part in chunks(sorted(set(keys)), ID_CHUNK):
                query = sa.select(N.c.key, N.c.id).where(
                    N.c.graph_id == self._graph_id, N.c.type == type, N.c.key.in_(part)
                )
                index.update((k, int(i)) for k, i in conn.execute(query))
        return np.fromiter((index.get(k, -1) for k in keys), dtype=np.int64, count=len(keys))

    def remove_node(self, node_id: int) -> None:
        nid = check_id(node_id)
        with self._write() as conn:
            if not self._present(conn, [nid]):
                raise UnknownIdError(f"node id {nid} does not exist")
            edges = delete_nodes(conn, self._graph_id, [nid])
        self._n_nodes -= 1
        self._n_edges -= edges
        self._version += 1

    # --- edges -------------------------------------------------------------------

    def _edge_ticks(
        self, conn: sa.Connection, type: str, pairs: Iterable[tuple[int, int]]
    ) -> dict[tuple[int, int], int]:
        """``updated_tick`` of the existing edges among ``(src, dst)`` pairs of ``type``."""
        found: dict[tuple[int, int], int] = {}
        for part in chunks(sorted(set(pairs)), PAIR_CHUNK):
            query = sa.select(E.c.src, E.c.dst, E.c.updated_tick).where(
                E.c.graph_id == self._graph_id,
                E.c.type == type,
                sa.tuple_(E.c.src, E.c.dst).in_(part),
            )
            found.update(((int(s), int(d)), int(u)) for s, d, u in conn.execute(query))
        return found

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
        _check_lengths(type)
        last: dict[tuple[int, int], int] = {}
        for i, pair in enumerate(zip(srcs, dsts, strict=True)):
            last[pair] = i
        tick, g = self._tick, self._graph_id
        with self._write() as conn:
            present = self._present(conn, (*srcs, *dsts))
            for nid in (*srcs, *dsts):
                if nid not in present:
                    raise UnknownIdError(f"node id {nid} does not exist")
            existing = self._edge_ticks(conn, type, last)
            self._reserve_edges(conn, type, len(srcs), last, existing)
            params = [
                {
                    "g": g,
                    "src": src,
                    "dst": dst,
                    "type": type,
                    "props": encode_properties(dict(zip(names, rows[i], strict=True))),
                    "weight": weights[i],
                    "tick": tick,
                }
                for (src, dst), i in last.items()
            ]
            conn.execute(self._upsert_edge_sql, params)
            n_edges = self._n_edges + sum(1 for p in last if p not in existing)
            evicted = evict_edges(
                conn,
                self._graph_id,
                self._pinned_edge_types,
                self._tick,
                n_edges - self._max_edges,
                self._dialect,
            )
        self._n_edges = n_edges - evicted
        self._evicted_edges += evicted
        self._version += 1
        self._analyse_if_grown(E, self._n_edges)

    def _reserve_edges(
        self,
        conn: sa.Connection,
        type: str,
        n_rows: int,
        pairs: Iterable[tuple[int, int]],
        existing: dict[tuple[int, int], int],
    ) -> None:
        if self._n_edges + n_rows <= self._max_edges:
            return
        total, pinned, fresh = census(conn, E, self._graph_id, self._pinned_edge_types, self._tick)
        self._n_edges = total
        if type in self._pinned_edge_types:
            added = sum(1 for p in pairs if p not in existing)
        else:
            added = sum(1 for p in pairs if existing.get(p, -1) != self._tick)
        need = pinned + fresh + added
        if need > self._max_edges:
            raise CapacityError(
                f"cannot upsert {n_rows} {type!r} edges at tick {self._tick}: "
                f"{need} pinned or current-tick edges would exceed max_edges={self._max_edges}"
            )

    def get_edge(self, src: int, dst: int, type: str) -> Edge:
        type = check_name(type, "edge type")
        src, dst = check_id(src, "src"), check_id(dst, "dst")
        with self._read() as conn:
            row = conn.execute(
                sa.select(E.c.properties, E.c.weight).where(
                    E.c.graph_id == self._graph_id,
                    E.c.src == src,
                    E.c.dst == dst,
                    E.c.type == type,
                )
            ).first()
        if row is None:
            raise UnknownIdError(f"edge {src} -{type}-> {dst} does not exist")
        return Edge(src, dst, type, row[0], float(row[1]))

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
        pairs = list(zip(srcs, dsts, strict=True))
        with self._write() as conn:
            existing = self._edge_ticks(conn, type, pairs)
            if not missing_ok:
                for src, dst in pairs:
                    if (src, dst) not in existing:
                        raise UnknownIdError(f"edge {src} -{type}-> {dst} does not exist")
            delete_edges(conn, self._graph_id, [(s, d, type) for s, d in existing])
        if existing:
            self._n_edges -= len(existing)
            self._version += 1
        return len(existing)

    # --- queries -----------------------------------------------------------------

    def _node_query(self, type: str | None, conditions: tuple) -> sa.Select:
        query = sa.select(*NODE_COLUMNS).where(N.c.graph_id == self._graph_id)
        if type is not None:
            query = query.where(N.c.type == type)
        return query.where(*where_clauses(self._dialect, N.c.properties, conditions))

    def _find_nodes(
        self, type: str | None, conditions: tuple, limit: int, offset: int
    ) -> tuple[Node, ...]:
        query = self._node_query(type, conditions).order_by(N.c.id).limit(limit).offset(offset)
        with self._read() as conn:
            return tuple(map(node_of_row, conn.execute(query)))

    def _edges(self, nid: int, edge_type: str | None, direction: str) -> tuple[Edge, ...]:
        ends = {"out": E.c.src == nid, "in": E.c.dst == nid}
        touch = ends.get(direction, sa.or_(E.c.src == nid, E.c.dst == nid))
        query = sa.select(E.c.src, E.c.dst, E.c.type, E.c.properties, E.c.weight).where(
            E.c.graph_id == self._graph_id, touch
        )
        if edge_type is not None:
            query = query.where(E.c.type == edge_type)
        query = query.order_by(E.c.src, E.c.dst, code_point_order(E.c.type, self._dialect))
        with self._read() as conn:
            return tuple(
                Edge(int(s), int(d), t, p, float(w)) for s, d, t, p, w in conn.execute(query)
            )

    def _neighbours(self, nid: int, edge_type: str | None, direction: str) -> tuple[int, ...]:
        with self._read() as conn:
            return tuple(
                sorted(frontier_step(conn, self._graph_id, [nid], edge_type, direction)[nid])
            )

    def _k_hop(
        self, nid: int, k: int, edge_type: str | None, direction: str
    ) -> tuple[tuple[int, int], ...]:
        query = k_hop_select(self._graph_id, nid, k, edge_type, direction).order_by("id")
        with self._read() as conn:
            return tuple((int(i), int(d)) for i, d in conn.execute(query))

    def _shortest_path(
        self, src: int, dst: int, edge_type: str | None, direction: str, max_depth: int
    ) -> tuple[int, ...] | None:
        with self._read() as conn:
            return shortest_path(conn, self._graph_id, src, dst, edge_type, direction, max_depth)

    def find_near(
        self,
        node_id: int,
        k: int,
        where: Mapping[str, Any] | None = None,
        *,
        type: str | None = None,
        edge_type: str | None = None,
        direction: str = "out",
        limit: int = 100,
    ) -> list[Node]:
        """Nodes within ``k`` hops of ``node_id`` (itself included) of ``type`` matching
        ``where``, ascending id: :meth:`k_hop` and :meth:`find_nodes` in one SQL query.

        Not part of :class:`KnowledgeStore`; it saves fetching every node of a large
        neighbourhood when a filter keeps a few.
        """
        nid = check_id(node_id)
        k = check_hops(k, "k")
        self._check_traversal(edge_type, direction)
        if type is not None:
            type = check_name(type, "node type")
        conditions = parse_where(where)
        limit, _ = check_page(limit, 0)
        query = near_query(
            self._graph_id, self._dialect, nid, k, conditions, type, edge_type, direction, limit
        )

        def compute() -> tuple[Node, ...]:
            with self._read() as conn:  # one connection for the check and the query
                if not self._present(conn, [nid]):
                    raise UnknownIdError(f"node id {nid} does not exist")
                return tuple(map(node_of_row, conn.execute(query)))

        key = ("find_near", nid, k, type, conditions, edge_type, direction, limit)
        return list(self._cached(key, compute))

    def find_near_query(
        self,
        node_id: int,
        k: int,
        where: Mapping[str, Any] | None = None,
        *,
        type: str | None = None,
        edge_type: str | None = None,
        direction: str = "out",
        limit: int = 100,
    ) -> sa.Select:
        """The SQL :meth:`find_near` runs (unchecked ids), e.g. to ``EXPLAIN`` it."""
        return near_query(
            self._graph_id,
            self._dialect,
            check_id(node_id),
            check_hops(k, "k"),
            parse_where(where),
            type,
            edge_type,
            check_direction(direction),
            check_page(limit, 0)[0],
        )

    def count_nodes(self, type: str | None = None) -> int:
        if type is not None:
            type = check_name(type, "node type")
        return self._cached(("count_nodes", type), lambda: self._count_in(N, type))

    def count_edges(self, type: str | None = None) -> int:
        if type is not None:
            type = check_name(type, "edge type")
        return self._cached(("count_edges", type), lambda: self._count_in(E, type))

    def _count_in(self, table: sa.Table, type: str | None) -> int:
        with self._read() as conn:
            return self._count(conn, table, type)

    def _by_type(self, table: sa.Table) -> dict[str, int]:
        query = (
            sa.select(table.c.type, sa.func.count())
            .where(table.c.graph_id == self._graph_id)
            .group_by(table.c.type)
        )
        with self._read() as conn:
            return {t: int(n) for t, n in conn.execute(query)}

    def stats(self) -> GraphStats:
        nodes = self._cached(("nodes_by_type",), lambda: self._by_type(N))
        edges = self._cached(("edges_by_type",), lambda: self._by_type(E))
        return GraphStats(
            tick=self._tick,
            nodes=sum(nodes.values()),
            edges=sum(edges.values()),
            pinned_nodes=sum(n for t, n in nodes.items() if t in self._pinned_types),
            pinned_edges=sum(n for t, n in edges.items() if t in self._pinned_edge_types),
            max_nodes=self._max_nodes,
            max_edges=self._max_edges,
            evicted_nodes=self._evicted_nodes,
            evicted_edges=self._evicted_edges,
            nodes_by_type=nodes,
            edges_by_type=edges,
        )

    def __repr__(self) -> str:
        return (
            f"SqlKnowledgeGraph({self._dialect}, graph_id={self._graph_id}, "
            f"nodes={self._n_nodes}/{self._max_nodes}, "
            f"edges={self._n_edges}/{self._max_edges}, tick={self._tick})"
        )
