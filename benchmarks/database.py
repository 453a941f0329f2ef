"""B3 -- database: bulk load, per-query-class latency, and errors under concurrency.

Loads (at ``--scale 1``) 10 000 agents, 500 coalitions with their memberships,
1 000 000 knowledge nodes and 3 000 000 edges into the tables of
:mod:`freeagentics.storage.tables`, then times, per backend (SQLite file, PostgreSQL
schema created for the run and dropped after it):

* ``simple-select``: the first 100 agents of a status (alternating ``active`` /
  ``removed``), by the ``(simulation_id, status)`` index;
* ``complex-join``: an agent's current coalitions, each with its current members;
* ``bulk-insert``: 1 000 agent rows in one transaction (into a second simulation, so
  the queried population does not change);
* ``knowledge-graph``: nodes within 3 hops of a node matching a JSON property filter,
  through :meth:`SqlKnowledgeGraph.find_near` (one recursive-CTE query, no cache);
* ``concurrency``: 1 000 operations of those kinds from 50 threads over a bounded
  pool of 20 connections that queues; reports the errors (and latency, queueing
  included).

Latencies of the first four classes are measured on a warm connection in one thread
(the knowledge-graph class goes through the store, which checks a connection out per
call). The data loads fast: PostgreSQL ``COPY`` (psycopg 3 ``cursor.copy``) with the
secondary indexes built after the load and foreign-key triggers off for it
(``session_replication_role = replica``; the generated data is consistent); SQLite
``executemany`` in large transactions with ``synchronous=OFF`` and a large page cache.
Data is generated in chunks, so memory stays flat whatever the scale.

Usage::

    python benchmarks/database.py                      # full size, both backends
    python benchmarks/database.py --quick              # 1/100 of the data, < 60 s
    python benchmarks/database.py --backends postgresql --explain --json b3.json
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import machine_info, print_table, write_json
from freeagentics.knowledge import SqlKnowledgeGraph
from freeagentics.storage import agents as agent_store
from freeagentics.storage.engine import create_engine_for
from freeagentics.storage.tables import (
    agents,
    coalition_memberships,
    coalitions,
    knowledge_edges,
    knowledge_graphs,
    knowledge_nodes,
    metadata,
    simulations,
)

DEFAULT_POSTGRES_URL = os.environ.get(
    "FREEAGENTICS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CASES = ("simple-select", "complex-join", "bulk-insert", "knowledge-graph", "concurrency")
#: the original system's figures (avg, p95, max in ms), as its report gives them
ORIGINAL = {
    "simple-select": (2.3, 4.5, 12),
    "complex-join": (15.6, 28.3, 156),
    "bulk-insert": (45.2, 89.5, 245),
    "knowledge-graph": (78.4, 145, 892),
}
#: PostgreSQL targets: (figure, bound in ms)
TARGETS = {
    "simple-select": ("p95", 1.0),
    "complex-join": ("p95", 5.0),
    "bulk-insert": ("avg", 10.0),
    "knowledge-graph": ("p95", 10.0),
}
NODE_KINDS = ("location", "resource", "observation", "event")
EDGE_TYPES = ("near", "saw", "link")  # one edge of each per node: (src, dst, type) unique
KG_FILTER = {"kind": "resource", "value__ge": 50}
CHUNK = 100_000
SIM, BULK_SIM = 1, 2


# --- sizes and generated data ---------------------------------------------------------


class Sizes:
    def __init__(self, scale: float) -> None:
        self.agents = max(int(10_000 * scale), 20)
        self.coalitions = max(int(500 * scale), 2)
        self.nodes = max(int(1_000_000 * scale), self.agents + self.coalitions + 100)
        self.edges = 3 * self.nodes


def agent_rows(n: int, simulation_id: int, first: int = 0, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    removed = rng.random(n) < 0.05
    return [
        {
            "simulation_id": simulation_id,
            "agent_id": first + i,
            "kind": ("explorer", "forager", "scout")[i % 3],
            "status": "removed" if removed[i] else "active",
            "coalition_id": None,
            "row": int(rng.integers(0, 100)),
            "col": int(rng.integers(0, 100)),
            "energy": float(rng.random()),
            "last_action": int(i % 5),
            "metrics": {"free_energy": float(rng.random())},
            "updated_tick": 0,
        }
        for i in range(n)
    ]


def memberships(sizes: Sizes) -> list[dict]:
    """Every agent in coalition ``agent % C``; one in ten also in the next one."""
    rows = []
    for a in range(sizes.agents):
        rows.append(dict(simulation_id=SIM, coalition_id=a % sizes.coalitions, agent_id=a))
        if a % 10 == 0:
            rows.append(
                dict(simulation_id=SIM, coalition_id=(a + 1) % sizes.coalitions, agent_id=a)
            )
    for r in rows:
        r.update(joined_tick=0, left_tick=None)
    return rows


def node_chunks(sizes: Sizes, graph_id: int) -> Iterator[list[tuple]]:
    """Rows ``(graph_id, id, type, key, properties, 0, 0)``: agents, coalitions, then the
    rest, each with ``kind``, ``value`` (0-99) and ``x`` properties."""
    rng = np.random.default_rng(1)
    for start in range(1, sizes.nodes + 1, CHUNK):
        ids = np.arange(start, min(start + CHUNK, sizes.nodes + 1))
        kinds = rng.integers(0, len(NODE_KINDS), len(ids))
        values = rng.integers(0, 100, len(ids))
        xs = rng.random(len(ids))
        rows = []
        for nid, kind, value, x in zip(
            ids.tolist(), kinds.tolist(), values.tolist(), xs.tolist(), strict=True
        ):
            if nid <= sizes.agents:
                type, key = "agent", str(nid - 1)
            elif nid <= sizes.agents + sizes.coalitions:
                type, key = "coalition", str(nid - sizes.agents - 1)
            else:
                type, key = NODE_KINDS[kind], str(nid)
            props = f'{{"kind":"{NODE_KINDS[kind]}","value":{value},"x":{x:.4f}}}'
            rows.append((graph_id, nid, type, key, props, 0, 0))
        yield rows


def edge_chunks(sizes: Sizes, graph_id: int) -> Iterator[list[tuple]]:
    """Rows ``(graph_id, src, dst, type, properties, weight, 0, 0)``: from every node a
    ``near`` edge 1-10 ids ahead and ``saw``/``link`` edges to random nodes."""
    rng = np.random.default_rng(2)
    n = sizes.nodes
    for start in range(1, n + 1, CHUNK):
        src = np.arange(start, min(start + CHUNK, n + 1))
        near = (src - 1 + rng.integers(1, 11, len(src))) % n + 1
        saw = (src - 1 + rng.integers(1, n, len(src))) % n + 1
        link = (src - 1 + rng.integers(1, n, len(src))) % n + 1
        w = rng.random(len(src)).round(4)
        rows = []
        for s, a, b, c, weight in zip(
            src.tolist(), near.tolist(), saw.tolist(), link.tolist(), w.tolist(), strict=True
        ):
            rows.append((graph_id, s, a, "near", "{}", weight, 0, 0))
            rows.append((graph_id, s, b, "saw", "{}", weight, 0, 0))
            rows.append((graph_id, s, c, "link", "{}", weight, 0, 0))
        yield rows


# --- backends -------------------------------------------------------------------------


class Backend:
    """A database for one run: engine, loading and cleanup."""

    name: str
    engine: sa.Engine

    def close(self) -> None:
        self.engine.dispose()


class SqliteBackend(Backend):
    name = "sqlite"

    def __init__(self, path: str | None) -> None:
        self._tmp = None
        if path is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="fa-b3-")
            path = str(Path(self._tmp.name) / "b3.db")
        self.path = path
        self.engine = create_engine_for(
            f"sqlite:///{path}", pool_size=10, max_overflow=10, pool_timeout=120
        )

    def bulk(self, table: sa.Table, chunks: Iterator[list[tuple]]) -> None:
        raw = self.engine.raw_connection()  # autocommit mode: we issue BEGIN/COMMIT
        try:
            # outside a transaction, where these pragmas take effect
            raw.execute("PRAGMA synchronous=OFF")
            raw.execute("PRAGMA cache_size=-524288")  # 512 MiB of pages while loading
            raw.execute("PRAGMA foreign_keys=OFF")  # generated rows are consistent
            cols = ", ".join(c.name for c in table.columns)
            marks = ", ".join("?" for _ in table.columns)
            sql = f"INSERT INTO {table.name} ({cols}) VALUES ({marks})"
            raw.execute("BEGIN")
            for i, rows in enumerate(chunks):
                raw.executemany(sql, rows)
                if i % 10 == 9:  # a million rows per transaction
                    raw.execute("COMMIT")
                    raw.execute("BEGIN")
            raw.execute("COMMIT")
        finally:
            raw.close()  # back to the pool; its connect-time pragmas are reapplied on reuse

    def close(self) -> None:
        super().close()
        if self._tmp is not None:
            self._tmp.cleanup()


class PostgresBackend(Backend):
    name = "postgresql"

    def __init__(self, url: str) -> None:
        self.schema = f"fa_bench_{uuid.uuid4().hex[:10]}"
        self._admin = sa.create_engine(url, pool_size=1, max_overflow=0)
        with self._admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))
        # no pre-ping: a fresh server for the run, and the ping would be timed too
        self.engine = sa.create_engine(
            url,
            pool_size=10,
            max_overflow=10,
            pool_timeout=120,
            connect_args={"options": f"-c search_path={self.schema}"},
        )

    def bulk(self, table: sa.Table, chunks: Iterator[list[tuple]]) -> None:
        cols = ", ".join(c.name for c in table.columns)
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("SET session_replication_role = replica")  # no FK triggers here
            with cur.copy(f"COPY {table.name} ({cols}) FROM STDIN") as copy:
                for rows in chunks:
                    copy.write("".join("\t".join(map(str, r)) + "\n" for r in rows))
            cur.execute("SET session_replication_role = DEFAULT")
            raw.commit()
        finally:
            raw.close()

    def close(self) -> None:
        super().close()
        with self._admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{self.schema}" CASCADE'))
        self._admin.dispose()


def _secondary_indexes(table: sa.Table, dialect: str) -> list[sa.Index]:
    return [i for i in table.indexes if i.info.get("only_on", dialect) == dialect]


def load(backend: Backend, sizes: Sizes) -> tuple[int, dict[str, float]]:
    """Create the tables and load the data; return the graph id and phase timings."""
    engine, dialect = backend.engine, backend.engine.dialect.name
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(simulations),
            [
                {"id": SIM, "name": "b3", "config": {}},
                {"id": BULK_SIM, "name": "b3-bulk", "config": {}},
            ],
        )
        conn.execute(sa.insert(agents), agent_rows(sizes.agents, SIM))
        conn.execute(
            sa.insert(coalitions),
            [
                {"simulation_id": SIM, "coalition_id": c, "leader": c, "created_tick": 0}
                for c in range(sizes.coalitions)
            ],
        )
        conn.execute(sa.insert(coalition_memberships), memberships(sizes))
        graph_id = int(
            conn.execute(
                sa.insert(knowledge_graphs).values(
                    simulation_id=SIM, name="b3", next_node_id=sizes.nodes + 1
                )
            ).inserted_primary_key[0]
        )
        # build the secondary indexes once, after the rows are in
        for table in (knowledge_nodes, knowledge_edges):
            for index in _secondary_indexes(table, dialect):
                conn.execute(sa.text(f"DROP INDEX IF EXISTS {index.name}"))
    timings["population_s"] = time.perf_counter() - t0
    t = time.perf_counter()
    backend.bulk(knowledge_nodes, node_chunks(sizes, graph_id))
    timings["nodes_s"] = time.perf_counter() - t
    t = time.perf_counter()
    backend.bulk(knowledge_edges, edge_chunks(sizes, graph_id))
    timings["edges_s"] = time.perf_counter() - t
    t = time.perf_counter()
    with engine.begin() as conn:
        if dialect == "postgresql":
            conn.execute(sa.text("SET maintenance_work_mem = '1GB'"))
        for table in (knowledge_nodes, knowledge_edges):
            for index in _secondary_indexes(table, dialect):
                index.create(conn)
    timings["indexes_s"] = time.perf_counter() - t
    t = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(sa.text("ANALYZE"))
    timings["analyze_s"] = time.perf_counter() - t
    timings["load_s"] = time.perf_counter() - t0
    return graph_id, timings


# --- the query classes ----------------------------------------------------------------

SIMPLE = sa.text(
    "SELECT agent_id, kind, row, col, energy FROM agents "
    "WHERE simulation_id = :sim AND status = :status ORDER BY agent_id LIMIT 100"
)
JOIN = sa.text(
    """
    SELECT m1.coalition_id, c.objective, c.leader, a.agent_id, a.kind, a.status, a.energy
    FROM coalition_memberships m1
    JOIN coalitions c
      ON c.simulation_id = m1.simulation_id AND c.coalition_id = m1.coalition_id
    JOIN coalition_memberships m2
      ON m2.simulation_id = m1.simulation_id AND m2.coalition_id = m1.coalition_id
     AND m2.left_tick IS NULL
    JOIN agents a ON a.simulation_id = m2.simulation_id AND a.agent_id = m2.agent_id
    WHERE m1.simulation_id = :sim AND m1.agent_id = :agent AND m1.left_tick IS NULL
    ORDER BY m1.coalition_id, a.agent_id
    """
)


class Workload:
    """One backend's loaded database and the four query classes on it."""

    def __init__(self, backend: Backend, sizes: Sizes, graph_id: int) -> None:
        self.engine = backend.engine
        self.sizes = sizes
        self.store = SqlKnowledgeGraph(
            self.engine,
            graph_id,
            max_nodes=10 * sizes.nodes,
            max_edges=10 * sizes.edges,
            cache_size=0,
        )
        self.rng = np.random.default_rng(3)
        self._next_agent = 0
        self._lock = threading.Lock()
        first_free = sizes.agents + sizes.coalitions + 1
        self.kg_starts = np.random.default_rng(4).integers(first_free, sizes.nodes + 1, 100_000)

    def simple(self, conn: sa.Connection, i: int) -> int:
        status = "active" if i % 2 == 0 else "removed"
        return len(conn.execute(SIMPLE, {"sim": SIM, "status": status}).all())

    def join(self, conn: sa.Connection, i: int) -> int:
        agent = (i * 7919) % self.sizes.agents
        return len(conn.execute(JOIN, {"sim": SIM, "agent": agent}).all())

    def bulk_rows(self, n: int) -> dict[str, np.ndarray]:
        """Arguments of :func:`freeagentics.storage.agents.upsert` for ``n`` new agents."""
        with self._lock:
            first, self._next_agent = self._next_agent, self._next_agent + n
        rng = np.random.default_rng(first)
        return {
            "ids": np.arange(first, first + n),
            "kinds": np.arange(n) % 3,
            "kind_names": ("explorer", "forager", "scout"),
            "positions": rng.integers(0, 100, (n, 2)),
            "energy": rng.random(n),
            "actions": rng.integers(0, 5, n),
            "metrics": {"free_energy": rng.random(n)},
        }

    def bulk(self, batch: dict[str, np.ndarray]) -> None:
        """One transaction through the storage layer's bulk path (COPY on PostgreSQL)."""
        with self.engine.begin() as conn:
            agent_store.upsert(conn, BULK_SIM, 0, **batch)

    def knowledge(self, i: int) -> int:
        start = int(self.kg_starts[i % len(self.kg_starts)])
        return len(self.store.find_near(start, 3, KG_FILTER, limit=1000))


def timed(fn: Callable[[int], Any], repeats: int, warmup: int = 5) -> np.ndarray:
    for i in range(warmup):
        fn(-1 - i)
    out = np.empty(repeats)
    for i in range(repeats):
        t = time.perf_counter()
        fn(i)
        out[i] = time.perf_counter() - t
    return out * 1e3


def measure(work: Workload, repeats: dict[str, int], workers: int, ops: int) -> dict:
    """Latencies in ms per class, and ``(latencies, errors)`` of the concurrent run."""
    results: dict[str, Any] = {}
    with work.engine.connect() as conn:
        results["simple-select"] = timed(lambda i: work.simple(conn, i), repeats["simple"])
        results["complex-join"] = timed(lambda i: work.join(conn, i), repeats["join"])
        conn.rollback()
    results["knowledge-graph"] = timed(work.knowledge, repeats["kg"])
    batches = [work.bulk_rows(1000) for _ in range(repeats["bulk"] + 3)]
    results["bulk-insert"] = timed(lambda i: work.bulk(batches[i]), repeats["bulk"], warmup=0)

    def one(i: int) -> float:
        t = time.perf_counter()
        kind = i % 4
        if kind == 0:
            with work.engine.connect() as c:
                work.simple(c, i)
        elif kind == 1:
            with work.engine.connect() as c:
                work.join(c, i)
        elif kind == 2:
            work.knowledge(i)
        else:
            work.bulk(work.bulk_rows(10))
        return (time.perf_counter() - t) * 1e3

    errors = 0
    lat = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for fut in [pool.submit(one, i) for i in range(ops)]:
            try:
                lat.append(fut.result())
            except Exception as exc:  # counted, not fatal: this is what the case measures
                errors += 1
                if errors <= 3:
                    print(f"  concurrency error: {type(exc).__name__}: {exc}", file=sys.stderr)
    results["concurrency"] = (np.asarray(lat), errors)
    return results


def explain(work: Workload) -> str:
    start = int(work.kg_starts[0])
    query = work.store.find_near_query(start, 3, KG_FILTER, limit=1000)
    compiled = query.compile(dialect=work.engine.dialect)
    with work.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS) " + str(compiled), compiled.params
        ).all()
    return "\n".join(r[0] for r in rows)


# --- output ---------------------------------------------------------------------------


def stats_ms(values: np.ndarray) -> tuple[float, float, float]:
    if len(values) == 0:
        return float("nan"), float("nan"), float("nan")
    return float(values.mean()), float(np.percentile(values, 95)), float(values.max())


def records_for(backend: str, sizes: Sizes, results: dict, extra: dict) -> list[dict]:
    n = {
        "simple-select": sizes.agents,
        "complex-join": sizes.agents,
        "bulk-insert": 1000,
        "knowledge-graph": sizes.nodes,
        "concurrency": len(results["concurrency"][0]) + results["concurrency"][1],
    }
    out = []
    for case in CASES:
        values, errors = results[case] if case == "concurrency" else (results[case], 0)
        avg, p95, mx = stats_ms(values)
        out.append(
            {
                "benchmark": "B3",
                "case": case,
                "impl": f"freeagentics-{backend}",
                "n": n[case],
                "samples": len(values),
                "latency_ms_avg": avg,
                "latency_ms_p95": p95,
                "latency_ms_max": mx,
                "errors": errors,
                "knowledge_nodes": sizes.nodes,
                "knowledge_edges": sizes.edges,
                **extra,
            }
        )
    return out


def _ms(v: float) -> str:
    return "-" if v != v else f"{v:.3g}"


def print_results(records: list[dict]) -> None:
    rows = []
    for r in records:
        case = r["case"]
        orig = ORIGINAL.get(case)
        target = ""
        if r["impl"].endswith("postgresql"):
            if case in TARGETS:
                fig, bound = TARGETS[case]
                got = r[f"latency_ms_{fig}"]
                target = f"{fig} ≤ {bound:g} ms: {'met' if got <= bound else 'MISSED'}"
            elif case == "concurrency":
                target = f"0 errors: {'met' if r['errors'] == 0 else 'MISSED'}"
        rows.append(
            [
                case,
                r["impl"].removeprefix("freeagentics-"),
                str(r["samples"]),
                _ms(r["latency_ms_avg"]),
                _ms(r["latency_ms_p95"]),
                _ms(r["latency_ms_max"]),
                str(r["errors"]),
                "/".join(f"{v:g}" for v in orig) if orig else "-",
                target,
            ]
        )
    print_table(
        "B3 database: latency in ms (original system's avg/p95/max beside)",
        ["case", "backend", "samples", "avg", "p95", "max", "errors", "original", "target"],
        rows,
    )


# --- main -----------------------------------------------------------------------------


def run_backend(name: str, args: argparse.Namespace, sizes: Sizes) -> list[dict]:
    backend: Backend = (
        SqliteBackend(args.sqlite_path) if name == "sqlite" else PostgresBackend(args.postgres_url)
    )
    try:
        print(
            f"[{name}] loading {sizes.agents:,} agents, {sizes.coalitions:,} coalitions, "
            f"{sizes.nodes:,} nodes, {sizes.edges:,} edges ...",
            flush=True,
        )
        graph_id, timings = load(backend, sizes)
        print(
            f"[{name}] loaded in {timings['load_s']:.1f} s ("
            + ", ".join(
                f"{k.removesuffix('_s')} {v:.1f} s" for k, v in timings.items() if k != "load_s"
            )
            + ")",
            flush=True,
        )
        work = Workload(backend, sizes, graph_id)
        q = args.quick
        repeats = {
            "simple": 200 if q else 1000,
            "join": 200 if q else 1000,
            "kg": 200 if q else 1000,
            "bulk": 20 if q else 100,
        }
        results = measure(work, repeats, workers=50, ops=args.ops)
        if args.explain and name == "postgresql":
            print("EXPLAIN (ANALYZE, BUFFERS) of the knowledge-graph query:")
            print(explain(work))
        extra = {
            "scale": args.scale,
            **{k: round(v, 3) for k, v in timings.items()},
            **machine_info(),
        }
        return records_for(name, sizes, results, extra)
    finally:
        backend.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backends", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite", "postgresql"]
    )
    parser.add_argument("--quick", action="store_true", help="1/100 of the data, fewer repeats")
    parser.add_argument(
        "--scale",
        type=float,
        default=None,
        help="fraction of the full data set (default 1, or 0.01 with --quick)",
    )
    parser.add_argument("--ops", type=int, default=1000, help="concurrent operations")
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print EXPLAIN (ANALYZE, BUFFERS) of the knowledge-graph query",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the records here")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--sqlite-path", default=None, help="SQLite file (default: temporary)")
    args = parser.parse_args(argv)
    if args.scale is None:
        args.scale = 0.01 if args.quick else 1.0
    sizes = Sizes(args.scale)
    records: list[dict] = []
    for name in args.backends:
        try:
            records += run_backend(name, args, sizes)
        except sa.exc.OperationalError as exc:
            print(f"[{name}] skipped: {exc.orig}", file=sys.stderr)
    if records:
        print_results(records)
    if args.json is not None:
        write_json(args.json, records)
    return 0 if records else 1


if __name__ == "__main__":
    raise SystemExit(main())
