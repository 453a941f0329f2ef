"""B8 — scale-out (BENCHMARKS.md): API workers, sharded ticks, failover, a projection.

Usage, from the repository root::

    python benchmarks/scaleout.py                      # parts a, b, c and d (b at 1 000 000)
    python benchmarks/scaleout.py --quick              # 100 000 agents, a few ticks
    python benchmarks/scaleout.py --part a --json reports/scaleout/b8a.json
    python benchmarks/scaleout.py --part b --json reports/scaleout/b8.json
    python benchmarks/scaleout.py --part c --json reports/scaleout/b8c.json
    python benchmarks/scaleout.py --part d --from reports/scaleout/b8.json

Parts (``--part``, default every part this script has):

**(a) ``api-workers``** — REST requests/s and WebSocket msg/s with 1 and 2 API worker
processes (``serve --workers n``, PostgreSQL and Redis: ``--database-url``,
``--redis-url``), lean clients; see :mod:`benchmarks._api_workers`. ``n`` = workers;
the figures ``requests_per_s`` or ``messages_per_s``, latencies, and the CPU of server,
clients and Redis while counting; ``ratio_to_one_worker`` within a round.

**(c) ``failover``** — seconds from killing a simulation's host (its actor's process,
or its whole node) to the simulation stepping again on a live node, and the ticks lost;
see :mod:`benchmarks._failover`.

**(b) ``shard-tick``** — the tick of N agents (default 1 000 000) of the server's demo
scenario with every agent an explorer (``demo_scenario(N)``: a world of 4 cells per
agent, food regrowing, coalitions reformed every 10 ticks around 3 objectives;
metrics every tick; the knowledge graph is not folded: it holds 250 000 nodes), one
no-op subscriber on the event bus, as B2 does. Implementations, each in a fresh
process, back to back on one machine, in turn for ``--rounds`` rounds (so that a load
that comes and goes on the machine falls on all of them; tick figures are over every
timed tick of every round):

* ``freeagentics`` — one process;
* ``freeagentics-1-shard`` — the coordinator here, every row in one shard actor on
  the second node of a local two-node Ray cluster (so every input and answer crosses
  between object stores, as between machines);
* ``freeagentics-2-shards`` — a shard on each node.

The cluster (:class:`~freeagentics.hosts.ray_local.LocalCluster`, one CPU and an
object store of ``--object-store-mb`` per node) is started by this process and ended
by it, whatever happens to a cell (``--address``: use a running one whose nodes carry
the resources ``node_a`` and ``node_b``). Timed: ``Simulation.step()`` after ``warmup``
ticks; medians and 95th percentiles. Communication, per tick, from
``ShardedAgents.last_comm`` (moves and metrics exchanges together): ``comm_s``
(serialising, sending, waiting, beyond the slowest shard's own compute),
``shard_compute_s`` (the slowest shard's compute), ``bytes_per_tick`` both ways;
``coordinator_s`` is the rest of the tick (targets, world, coalitions, events);
``round_trip_s``, an empty call to every shard and back.

**(d) ``projection-10m``** — the tick of 10 M agents on M machines (M = 1, 2, 4, 8,
16), one shard per machine and the coordinator beside the first, from the constants
measured in (b)::

    T(N, M) = w·N + c·N/M + t·N + 2·L·M

``w`` coordinator seconds per agent (2-shard run), ``c`` shard compute per agent with
a machine to itself (1-shard run), ``t`` communication per agent (1-shard run: every
row crosses nodes; all traffic passes the coordinator), ``L`` one round trip to a
shard (two exchanges a tick). Memory per machine: the coordinator's resident bytes per
agent (its growth from before the simulation was built) times N on the first, and the
bytes of the rows' state a shard holds per row times N/M on each (interpreters and
libraries, a few hundred MB a process, come on top).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks._common import (
    fmt_bytes,
    fmt_number,
    fmt_ratio,
    fmt_seconds,
    machine_info,
    print_table,
    run_worker,
    tick_stats,
    write_json,
)
from benchmarks._failover import DEFAULT_PG, DEFAULT_REDIS, run_failover
from benchmarks._failover import add_arguments as add_failover_arguments

#: part (a)'s loads (:mod:`benchmarks._api_workers`)
LOADS = ("rest-host", "rest-live", "websocket")
FULL_N = 1_000_000
QUICK_N = 100_000
PROJECTION_N = 10_000_000
MACHINES = (1, 2, 4, 8, 16)
#: impl name -> nodes holding its shards (none: one process)
IMPLS = {
    "freeagentics": (),
    "freeagentics-1-shard": ("b",),
    "freeagentics-2-shards": ("a", "b"),
}
#: the issue's target: 2 shards tick within this factor of one process
TARGET_RATIO = 1.3


# ---------------------------------------------------------------------- worker side
def scenario_config(n: int, seed: int):
    """The demo scenario at ``n`` agents, every one an explorer, knowledge not folded."""
    from freeagentics.server.app import demo_scenario
    from freeagentics.simulation.scenario import scenario_from_mapping

    mapping = demo_scenario(n)
    mapping["scenario"] = {"name": "shard-tick", "seed": seed}
    mapping["agents"] = {"explorer": n}
    mapping["simulation"] = {"knowledge_every": 10**9}
    return scenario_from_mapping(mapping).config


def _connect(address: str, nodes: int) -> None:
    import ray

    ray.init(address=address, log_to_driver=False, configure_logging=False)
    deadline = time.monotonic() + 60
    while sum(n["Alive"] for n in ray.nodes()) < nodes:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the cluster at {address} has fewer than {nodes} nodes")
        time.sleep(0.1)


def _round_trip(rows) -> float:
    """Median seconds of an empty call to every shard and back."""
    import ray

    times = []
    for _ in range(20):
        start = time.perf_counter()
        ray.get([h.ready.remote() for h in rows.handles])
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def measure_shard_tick(spec: dict[str, Any]) -> dict[str, Any]:
    import psutil

    from benchmarks._cell import settle
    from freeagentics.simulation import Simulation

    nodes = spec["nodes"]
    if nodes:
        from freeagentics.hosts.shards import shard

        _connect(spec["address"], 2)
    settle()
    uss_before = _uss()
    start = time.perf_counter()
    sim = Simulation(scenario_config(spec["n"], spec["seed"]))
    build_s = time.perf_counter() - start
    out: dict[str, Any] = {"build_s": build_s}
    rows = None
    if nodes:
        start = time.perf_counter()
        placement = [{"resources": {f"node_{x}": 0.001}, "num_cpus": 1} for x in nodes]
        rows = shard(sim, len(nodes), placement=placement)
        out["shard_s"] = time.perf_counter() - start
        out["round_trip_s"] = _round_trip(rows)
    sim.bus.subscribe(lambda events: None, maxsize=4, policy="latest")
    for _ in range(spec["warmup"]):
        sim.step()
    ticks, stages, comms = [], [], []
    for _ in range(spec["ticks"]):
        start = time.perf_counter()
        events = sim.step()
        ticks.append(time.perf_counter() - start)
        stages.append(events.timings)
        if rows is not None:
            comms.append({k: dict(v) for k, v in rows.last_comm.items()})
    median, p95 = tick_stats(ticks)
    out.update(
        tick_s_median=median,
        tick_s_p95=p95,
        ticks=len(ticks),
        tick_times=ticks,
        stages={s: float(np.median([t.get(s, 0.0) for t in stages])) for s in stages[0]},
        rss_mb=settle() / 1e6,
    )
    # unique pages only: objects this process wrote into the object store are shared
    # memory of the store, mapped here too
    out["coordinator_bytes_per_agent"] = (_uss() - uss_before) / spec["n"]
    if rows is not None:
        out.update(_comm_figures(ticks, comms))
        held = _call_all(rows, "ready")
        out["shard_rows"] = [sum(h.values()) for h in held]
        out["shard_state_bytes"] = _call_all(rows, "nbytes")
        pids = _call_all(rows, "pid")
        out["shard_rss_mb"] = [psutil.Process(pid).memory_info().rss / 1e6 for pid in pids]
        rows.close()
    sim.bus.close()
    return out


def _uss() -> int:
    import psutil

    return psutil.Process().memory_full_info().uss


def _call_all(rows, method: str) -> list:
    import ray

    return ray.get([getattr(h, method).remote() for h in rows.handles])


def _comm_figures(ticks: list[float], comms: list[dict]) -> dict[str, Any]:
    """Per-tick medians of the exchanges' costs (moves and metrics together)."""
    per_tick = []
    for tick, comm in zip(ticks, comms, strict=True):
        exchanges = comm.values()
        spent = sum(c["send_s"] + c["wait_s"] for c in exchanges)
        per_tick.append(
            {
                "comm_s": sum(c["comm_s"] for c in exchanges),
                "shard_compute_s": sum(max(c["compute_s"]) for c in exchanges),
                "send_s": sum(c["send_s"] for c in exchanges),
                "wait_s": sum(c["wait_s"] for c in exchanges),
                "coordinator_s": tick - spent,
                "bytes_out_per_tick": sum(c["bytes_out"] for c in exchanges),
                "bytes_in_per_tick": sum(c["bytes_in"] for c in exchanges),
            }
        )
    names = per_tick[0].keys()
    return {f"{k}_median": float(np.median([t[k] for t in per_tick])) for k in names}


def worker(spec_path: str) -> None:
    from benchmarks._cell import run_cell

    sys.argv[1:] = [spec_path]
    run_cell(measure_shard_tick)


# ---------------------------------------------------------------------- (b) shard-tick
def run_shard_tick(args: argparse.Namespace, records: list[dict[str, Any]]) -> None:
    from freeagentics.hosts.ray_local import LocalCluster

    n = args.n or (QUICK_N if args.quick else FULL_N)
    plan = {"warmup": 2, "ticks": 5} if args.quick else {"warmup": 3, "ticks": 12}
    if args.ticks is not None:
        plan["ticks"] = args.ticks
    info = machine_info()
    cluster = LocalCluster(("a", "b"), object_store_bytes=args.object_store_mb * 2**20)
    try:
        if args.address is None:
            cluster.start(connect=False)
            print(f"B8 (b): cluster up in {cluster.start_seconds:.1f} s", file=sys.stderr)
        address = args.address or cluster.address
        rounds: dict[str, list[dict[str, Any]]] = {impl: [] for impl in IMPLS}
        for r in range(args.rounds):
            for impl, nodes in IMPLS.items():
                print(f"B8 (b): {impl}, N = {n:,}, round {r + 1} ...", file=sys.stderr, flush=True)
                spec = {"n": n, "seed": args.seed, "nodes": list(nodes), **plan}
                spec["address"] = address
                result = run_worker(
                    "benchmarks.scaleout",
                    spec,
                    timeout_s=args.timeout,
                    memory_budget=int(args.memory_budget_gb * 2**30),
                )
                rounds[impl].append(result)
    finally:
        cluster.stop()
    results = {impl: _over_rounds(done) for impl, done in rounds.items()}
    single = results["freeagentics"].get("tick_s_median")
    for impl, result in results.items():
        record = {"benchmark": "B8", "case": "shard-tick", "impl": impl, "n": n, **result}
        record["shards"] = len(IMPLS[impl])
        record["cluster_start_s"] = cluster.start_seconds
        median = result.get("tick_s_median")
        record["ratio_to_one_process"] = median / single if median and single else None
        record["machine"] = info
        records.append(record)
    _print_shard_tick(records[-len(results) :])


def _over_rounds(done: list[dict[str, Any]]) -> dict[str, Any]:
    """One impl's rounds as one result: tick statistics over every timed tick, the other
    medians over the rounds' medians, the rest from the last round; ``rounds`` keeps each
    round's summary."""
    measured = [r for r in done if "tick_times" in r]
    if not measured:
        return done[-1]
    out = dict(measured[-1])
    times = [t for r in measured for t in r["tick_times"]]
    out["tick_s_median"], out["tick_s_p95"] = tick_stats(times)
    out["ticks"], out["tick_times"] = len(times), times
    for key in measured[-1]:
        if (key.endswith("_median") and key != "tick_s_median") or key == "round_trip_s":
            out[key] = float(np.median([r[key] for r in measured]))
    out["rounds"] = [
        {k: r.get(k) for k in ("tick_s_median", "tick_s_p95", "comm_s_median", "error")}
        for r in done
    ]
    return out


def _print_shard_tick(records: list[dict[str, Any]]) -> None:
    rows = []
    for r in records:
        ratio = r.get("ratio_to_one_process")
        met = "" if r["shards"] < 2 or ratio is None else ("yes" if ratio <= TARGET_RATIO else "no")
        out, back = r.get("bytes_out_per_tick_median"), r.get("bytes_in_per_tick_median")
        rows.append(
            [
                r["impl"],
                f"{r['n']:,}",
                fmt_seconds(r.get("tick_s_median")),
                fmt_seconds(r.get("tick_s_p95")),
                fmt_ratio(ratio),
                met or "-",
                fmt_seconds(r.get("shard_compute_s_median")),
                fmt_seconds(r.get("comm_s_median")),
                fmt_seconds(r.get("coordinator_s_median")),
                f"{fmt_bytes(out)} / {fmt_bytes(back)}" if out is not None else "-",
                fmt_seconds(r.get("round_trip_s")),
                str(r.get("skipped") or r.get("error", ""))[:60],
            ]
        )
    columns = ["impl", "N", "tick median", "tick p95", "÷ 1 process", "≤ 1.3×"]
    columns += ["shard compute", "comm", "coordinator", "bytes out / in", "round trip", "note"]
    print_table(
        "B8 (b) — sharded tick, medians per tick (comm: serialising, sending and waiting "
        "beyond the slowest shard's compute; target: 2 shards ≤ 1.3× one process)",
        columns,
        rows,
    )


# ---------------------------------------------------------------------- (d) projection
def projection_constants(records: list[dict[str, Any]]) -> dict[str, float]:
    """``w``, ``c``, ``t``, ``L`` and memory per agent from (b)'s records (module docstring)."""
    by_impl = {r["impl"]: r for r in records if r.get("case") == "shard-tick"}
    one, two = by_impl["freeagentics-1-shard"], by_impl["freeagentics-2-shards"]
    for r in (one, two):
        if "tick_s_median" not in r:
            raise ValueError(
                f"{r['impl']} has no measurement: {r.get('error') or r.get('skipped')}"
            )
    n = one["n"]
    return {
        "n_measured": n,
        "w": two["coordinator_s_median"] / two["n"],
        "c": one["shard_compute_s_median"] / n,
        "t": one["comm_s_median"] / n,
        "L": two["round_trip_s"],
        "coordinator_bytes_per_agent": two["coordinator_bytes_per_agent"],
        "shard_bytes_per_agent": float(
            np.sum(two["shard_state_bytes"]) / np.sum(two["shard_rows"])
        ),
        "bytes_per_agent_per_tick": (
            one["bytes_out_per_tick_median"] + one["bytes_in_per_tick_median"]
        )
        / n,
    }


def projected_tick(k: dict[str, float], n: int, machines: int) -> float:
    """``T(N, M) = w·N + c·N/M + t·N + 2·L·M``."""
    return k["w"] * n + k["c"] * n / machines + k["t"] * n + 2 * k["L"] * machines


FORMULA = "T(N, M) = w·N + c·N/M + t·N + 2·L·M"


def run_projection(args: argparse.Namespace, records: list[dict[str, Any]]) -> None:
    source = records
    if not any(r.get("case") == "shard-tick" for r in records):
        if args.source is None:
            raise SystemExit("part d needs part b's records: run it with b, or pass --from PATH")
        source = json.loads(Path(args.source).read_text())
    k = projection_constants(source)
    print(
        f"B8 (d): {FORMULA}\n"
        f"  w = {k['w'] * 1e9:.1f} ns coordinator per agent, c = {k['c'] * 1e9:.1f} ns "
        f"shard compute per agent, t = {k['t'] * 1e9:.1f} ns communication per agent "
        f"({k['bytes_per_agent_per_tick']:.0f} bytes a tick), L = {k['L'] * 1e3:.2f} ms "
        f"a round trip; measured at N = {k['n_measured']:,}",
        flush=True,
    )
    info = machine_info()
    rows, base = [], projected_tick(k, PROJECTION_N, 1)
    for m in MACHINES:
        tick = projected_tick(k, PROJECTION_N, m)
        first = (k["coordinator_bytes_per_agent"] + k["shard_bytes_per_agent"] / m) * PROJECTION_N
        other = k["shard_bytes_per_agent"] * PROJECTION_N / m
        records.append(
            {
                "benchmark": "B8",
                "case": "projection-10m",
                "impl": f"freeagentics-{m}-machines",
                "n": PROJECTION_N,
                "machines": m,
                "tick_s_projected": tick,
                "speedup": base / tick,
                "coordinator_machine_bytes": first,
                "shard_machine_bytes": other,
                "formula": FORMULA,
                "constants": k,
                "machine": info,
            }
        )
        rows.append(
            [
                str(m),
                fmt_seconds(tick),
                fmt_ratio(base / tick),
                fmt_seconds(k["w"] * PROJECTION_N),
                fmt_seconds(k["c"] * PROJECTION_N / m),
                fmt_seconds(k["t"] * PROJECTION_N + 2 * k["L"] * m),
                f"{first / 1e9:.1f} GB",
                f"{other / 1e9:.1f} GB",
            ]
        )
    columns = ["machines", "tick", "speed-up", "coordinator", "shards", "comm"]
    columns += ["memory, first", "memory, others"]
    print_table(f"B8 (d) — projected tick of {PROJECTION_N:,} agents ({FORMULA})", columns, rows)


# ---------------------------------------------------------------------- (a) api workers
def run_api_workers(args: argparse.Namespace, records: list[dict[str, Any]]) -> None:
    from benchmarks._api_workers import measure_api_workers

    done = measure_api_workers(args, machine_info())
    records += done
    _print_api_workers(done)


def _print_api_workers(records: list[dict[str, Any]]) -> None:
    """Medians over the rounds per worker count and load; the ratio to one worker is
    the median of the same-round ratios."""
    rows = []
    errors = [r for r in records if "error" in r]
    cells: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in records:
        if "load" in r:
            cells.setdefault((r["load"], r["n"]), []).append(r)

    def med(done: list[dict[str, Any]], key: str) -> float | None:
        values = [r[key] for r in done if r.get(key) is not None]
        return float(np.median(values)) if values else None

    for (load, n), done in sorted(cells.items()):
        rate = med(done, "messages_per_s" if load == "websocket" else "requests_per_s")
        tail = med(done, "latency_ms_p99" if load == "websocket" else "latency_ms_p95")
        cpu = ("server", "client", "redis", "other")
        rows.append(
            [
                load,
                str(n),
                fmt_number(rate),
                fmt_ratio(med(done, "ratio_to_one_worker")) if n > 1 else "1×",
                fmt_number(med(done, "per_server_cpu_s")),
                "-" if tail is None else f"{tail:.1f} ms",
                *(
                    f"{v:.0f} %" if (v := med(done, f"{k}_cpu_percent")) is not None else "-"
                    for k in cpu
                ),
                str(sum(r.get("errors", 0) for r in done)),
            ]
        )
    columns = ["load", "workers", "rate /s", "÷ 1 worker", "per server cpu-s", "p95 (ws: rtt p99)"]
    columns += ["server cpu", "clients cpu", "redis cpu", "rest of machine", "errors"]
    print_table(
        "B8 (a) — API workers: REST requests/s, WebSocket msg/s (medians over rounds; "
        "cpu in % of one core)",
        columns,
        rows,
    )
    for r in errors:
        print(f"  workers={r.get('n')} round {r.get('round')}: {r['error']}", flush=True)


#: part -> runner(args, records)
PARTS: dict[str, Callable[[argparse.Namespace, list[dict[str, Any]]], None]] = {
    "a": run_api_workers,
    "b": run_shard_tick,
    "c": run_failover,
    "d": run_projection,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("spec", nargs="?", help=argparse.SUPPRESS)  # a cell worker's spec file
    parser.add_argument("--part", nargs="+", choices=sorted(PARTS), default=sorted(PARTS))
    parser.add_argument("--quick", action="store_true", help=f"N = {QUICK_N:,}, a few ticks")
    parser.add_argument("--n", type=int, default=None, help="agents for (b)")
    parser.add_argument("--ticks", type=int, default=None, help="timed ticks per cell")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--rounds", type=int, default=None, help="runs of each impl, in turn (default 2; 1 quick)"
    )
    parser.add_argument("--object-store-mb", type=int, default=2048, help="per node")
    parser.add_argument(
        "--address", default=None, help="a running cluster with nodes node_a and node_b"
    )
    parser.add_argument("--from", dest="source", type=Path, default=None, help="(b)'s JSON")
    parser.add_argument("--json", type=Path, default=None, help="write the records here")
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds per cell")
    parser.add_argument("--memory-budget-gb", type=float, default=12.0, help="per cell")
    a = parser.add_argument_group("part a (api-workers)")
    a.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts")
    a.add_argument("--loads", nargs="+", choices=LOADS, default=list(LOADS), help="what to run")
    a.add_argument("--connections", type=int, default=None, help="WebSockets (5000; 500 quick)")
    a.add_argument("--http-connections", type=int, default=32, help="keep-alive REST clients")
    a.add_argument("--pingers", type=int, default=50, help="WebSockets that ping")
    a.add_argument("--duration", type=float, default=None, help="seconds per load (10; 4 quick)")
    a.add_argument("--agents", type=int, default=100, help="agents of the stepping simulation")
    services = parser.add_argument_group("services of parts a and c")
    services.add_argument(
        "--database-url",
        default=os.environ.get("FREEAGENTICS_TEST_POSTGRES_URL", DEFAULT_PG),
        help="PostgreSQL whose user may create databases and schemas (made and dropped)",
    )
    services.add_argument(
        "--redis-url", default=os.environ.get("FREEAGENTICS_TEST_REDIS_URL", DEFAULT_REDIS)
    )
    add_failover_arguments(parser)
    args = parser.parse_args(argv)
    if args.connections is None:
        args.connections = 500 if args.quick else 5000
    if args.duration is None:
        args.duration = 4.0 if args.quick else 10.0
    if 1 not in args.workers or any(w < 1 for w in args.workers):
        parser.error("--workers must include 1 (the baseline) and be >= 1")
    if args.n is not None and args.n < 10:
        parser.error("--n must be >= 10")
    if args.ticks is not None and args.ticks < 1:
        parser.error("--ticks must be >= 1")
    if args.rounds is None:
        args.rounds = 1 if args.quick else 2
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    if args.failover_rounds is not None and args.failover_rounds < 1:
        parser.error("--failover-rounds must be >= 1")
    if args.failover_every < 2 or args.failover_agents < 1 or args.failover_rate <= 0:
        parser.error("--failover-every must be >= 2, --failover-agents >= 1, --failover-rate > 0")
    if args.failover_node_cpus < 1:
        parser.error("--failover-node-cpus must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.spec is not None:
        worker(args.spec)
        return 0
    records: list[dict[str, Any]] = []
    for part in sorted(args.part):
        PARTS[part](args, records)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        write_json(args.json, records)
        print(f"wrote {args.json}", file=sys.stderr)
    return 1 if any("error" in r for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
