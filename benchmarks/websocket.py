"""B4 -- WebSocket: connections held, messages delivered per second, round trip, slow client.

For each connection count N, starts the real server afresh (``create_app`` under
uvicorn with the protocol ``freeagentics serve`` uses, SQLite, the demo simulation
ticking at 10 Hz, frames at 10 Hz) as a subprocess, then runs client processes
(:mod:`benchmarks._ws_worker`, bare uvloop protocols) that open N connections in all,
each subscribed to the world topic in MessagePack. Once every
worker is connected they count frames for ``--duration`` seconds while some
connections ping with their own ids (true round trip through the server's queue).
Records per N:

* ``broadcast``: frames delivered per second (counted by the clients), server RSS
  growth per connection (``bytes_per_connection``, psutil on the server process:
  RSS with N connections minus RSS of the same server, warmed up, before any), and
  over the counted seconds the server's CPU (``cpu_percent``, all its threads) and CPU
  per delivered frame (``cpu_us_per_message``), the simulation host's CPU
  (``host_cpu_percent``, the server's child processes), the clients' CPU and the load
  average;
* ``round-trip``: ping → pong latency avg / p99 over the pinging connections;
* ``slow-client`` (one N): the same with one extra connection that subscribes and
  never reads; the others' figures are compared with the plain run, and the server's
  ``freeagentics_messages_dropped_total`` shows it was thinned and closed.

With ``--ceiling`` the same clients then run the ``broadcast`` and ``round-trip`` cases
against :mod:`benchmarks._ws_ceiling_server` (impl ``bare-uvloop-ceiling``), a bare
broadcaster of frames of the size FreeAgentics just sent: what this machine delivers to
these clients at all, so FreeAgentics' figure reads as a share of it from the same run
(``share_of_ceiling`` on its ``broadcast`` record), and its server CPU per frame as a
multiple of the bare one's (``cpu_per_message_vs_ceiling``). The two alternate per N,
each pair back to back; ``--rounds K`` repeats the pair K times (records carry
``round``) and prints the medians, since on a shared two-core machine other work moves
messages per second between minutes (CPU per frame far less).

Usage::

    python benchmarks/websocket.py --quick --json b4.json     # 200 connections, ~1 min
    python benchmarks/websocket.py                            # 100, 1 000, 10 000
    python benchmarks/websocket.py --connections 1000 10000 --ceiling
    python benchmarks/websocket.py --connections 10000 --ceiling --rounds 3
"""

from __future__ import annotations

import argparse
import contextlib
import math
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (
    REPO_ROOT,
    fmt_bytes,
    fmt_number,
    machine_info,
    print_table,
    run_worker,
    write_json,
)
from freeagentics.loadtest.server import ServerProcess, free_port, raise_fd_limit
from freeagentics.server.ws.wire import PROTOCOL as WS_PROTOCOL

CONNECTIONS_PER_WORKER = 2500
WORKER_MEMORY = 3 << 30


class Server(ServerProcess):
    """The app under uvicorn in a subprocess with the demo simulation at 10 Hz."""

    def __init__(self, agents: int, ws_impl: str):
        super().__init__(
            env={
                "FREEAGENTICS_DEMO": "true",
                "FREEAGENTICS_DEMO_AGENTS": str(agents),
                "FREEAGENTICS_TICK_RATE_HZ": "10",
                "PYTHONPATH": str(REPO_ROOT),
            },
            uvicorn_args=("--ws", ws_impl),
        )
        self.start()
        sims = httpx.get(f"{self.base}/api/v1/simulations", timeout=10).json()
        items = sims.get("items", sims) if isinstance(sims, dict) else sims
        self.sim_id = items[0]["id"] if items else 1
        self.ps = psutil.Process(self.pid)
        self.url = self.ws_url

    def rss(self) -> int:
        return self.ps.memory_info().rss

    def metric(self, name: str) -> float:
        """Sum of a metric over its label sets."""
        return sum(v for k, v in self.scrape().items() if k == name or k.startswith(name + "{"))


class CeilingServer:
    """:mod:`benchmarks._ws_ceiling_server` in a subprocess, for the same clients."""

    def __init__(self, frame_bytes: int):
        self.port = free_port()
        self.url = f"ws://127.0.0.1:{self.port}/ws"
        self.sim_id = 1  # unused: it broadcasts to every connection
        # a session of its own, as the server's: the kernel shares CPU between sessions
        # (autogroups), so both meet the clients and other work on the same terms
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._ws_ceiling_server", str(self.port),
             str(frame_bytes), "10"],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the ceiling server did not start")
        self.ps = psutil.Process(self.proc.pid)

    def rss(self) -> int:
        return self.ps.memory_info().rss

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def run_clients(
    server: Server | CeilingServer, n: int, *, duration: float, pingers: int, slow: bool
) -> dict[str, Any]:
    """Hold ``n`` connections over several worker processes; their merged counts."""
    workers = max(1, math.ceil(n / CONNECTIONS_PER_WORKER))
    shares = [n // workers + (i < n % workers) for i in range(workers)]
    sync = tempfile.TemporaryDirectory(prefix="fa-b4-sync-")
    ramp_timeout = 60 + n / 20  # an overloaded server accepts slowly: wait, then report
    specs = [
        {
            "index": i,
            "url": server.url,
            "sim_id": server.sim_id,
            "connections": share,
            "ramp_batch": 100,
            "pingers": pingers // workers + (i < pingers % workers),
            "ping_interval_s": 0.1,
            "slow": slow and i == 0,
            "duration_s": duration,
            "sync_dir": sync.name,
            "ready_timeout_s": ramp_timeout,
        }
        for i, share in enumerate(shares)
    ]
    rss_before = server.rss()
    peak_rss = [rss_before]
    cpu: dict[str, float] = {}  # CPU seconds over the counted window

    def go_when_ready() -> None:
        deadline = time.monotonic() + ramp_timeout
        while len(list(Path(sync.name).glob("ready-*"))) < workers:
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        time.sleep(1.0)  # let the last subscriptions settle
        peak_rss[0] = server.rss()
        start = time.time() + 0.5
        staged = Path(sync.name) / "go.tmp"
        staged.write_text(str(start))
        staged.rename(staged.with_name("go"))  # whole: a worker never reads it half-written
        clients = [p for p in psutil.Process().children() if _is_client_worker(p)]
        host = server.ps.children(recursive=True)  # the simulation host process, if any
        time.sleep(max(0.0, start - time.time()))
        before = {"server": _cpu_s([server.ps]), "host": _cpu_s(host), "clients": _cpu_s(clients)}
        cpu["load_1m"] = psutil.getloadavg()[0]
        time.sleep(duration)
        after = {"server": _cpu_s([server.ps]), "host": _cpu_s(host), "clients": _cpu_s(clients)}
        cpu.update({k: after[k] - before[k] for k in before})

    starter = threading.Thread(target=go_when_ready, daemon=True)
    starter.start()
    with ThreadPoolExecutor(workers) as pool:
        futures = [
            pool.submit(
                run_worker,
                "benchmarks._ws_worker",
                spec,
                timeout_s=ramp_timeout + duration + 60,
                memory_budget=WORKER_MEMORY,
            )
            for spec in specs
        ]
        results = [f.result() for f in futures]
    starter.join()
    sync.cleanup()
    failed = [r for r in results if "connected" not in r]
    if failed:
        raise RuntimeError(f"client workers failed: {failed}")
    latencies = np.array([x for r in results for x in r["latencies"]]) * 1e3
    connected = sum(r["connected"] for r in results)
    messages = sum(r["messages"] for r in results)
    return {
        # CPU per delivered frame: how much of the machine each frame costs, which other
        # work on the machine moves far less than it moves messages_per_s
        "cpu_percent": 100 * cpu["server"] / duration if cpu else None,
        "cpu_us_per_message": 1e6 * cpu["server"] / messages if cpu and messages else None,
        "clients_cpu_percent": 100 * cpu["clients"] / duration if cpu else None,
        "host_cpu_percent": 100 * cpu["host"] / duration if cpu else None,
        "load_average_1m": cpu.get("load_1m"),
        "connected": connected,
        "messages_per_s": sum(r["messages"] / r["elapsed_s"] for r in results),
        "frame_bytes": sum(r["message_bytes"] for r in results)
        / max(1, sum(r["messages"] for r in results)),
        "latency_ms_avg": float(latencies.mean()) if latencies.size else None,
        "latency_ms_p99": float(np.percentile(latencies, 99)) if latencies.size else None,
        "latency_ms_max": float(latencies.max()) if latencies.size else None,
        "pings": int(latencies.size),
        "errors": sum(r["errors"] for r in results) + (n - connected),
        "closed": [r["closed"] for r in results],
        "ramp_s": max(r["ramp_s"] for r in results),
        "bytes_per_connection": (peak_rss[0] - rss_before) / max(connected, 1),
        "rss_mb": peak_rss[0] / 2**20,
    }


def plain_cases(
    server: Server | CeilingServer, n: int, args: argparse.Namespace, base: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The ``broadcast`` and ``round-trip`` records at ``n`` connections, and the raw counts."""
    got = run_clients(server, n, duration=args.duration, pingers=args.pingers, slow=False)
    expected = n * 10.0  # every connection gets the 10 Hz world frame
    common = {**base, "n": n, "errors": got["errors"], "ramp_s": got["ramp_s"]}
    records = [
        {
            **common,
            "case": "broadcast",
            "messages_per_s": got["messages_per_s"],
            "delivered_fraction": got["messages_per_s"] / expected,
            "connected": got["connected"],
            "frame_bytes": got["frame_bytes"],
            "bytes_per_connection": got["bytes_per_connection"],
            "rss_mb": got["rss_mb"],
            "cpu_percent": got["cpu_percent"],
            "cpu_us_per_message": got["cpu_us_per_message"],
            "clients_cpu_percent": got["clients_cpu_percent"],
            "host_cpu_percent": got["host_cpu_percent"],
            "load_average_1m": got["load_average_1m"],
        },
        {
            **common,
            "case": "round-trip",
            "latency_ms_avg": got["latency_ms_avg"],
            "latency_ms_p99": got["latency_ms_p99"],
            "latency_ms_max": got["latency_ms_max"],
            "pings": got["pings"],
        },
    ]
    name = base["impl"]
    print(f"[B4] {name} n={n}: {got['connected']} connected, {got['messages_per_s']:.0f} msg/s")
    return records, got


def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each connection count on a fresh server, so that RSS per connection is growth from
    that server's own start, not from memory earlier rounds left in the allocator; with
    ``--ceiling`` the bare broadcaster right after each, for the same clients."""
    info = machine_info()
    records: list[dict[str, Any]] = []
    base = {"benchmark": "B4", "impl": "freeagentics", "ws_impl": args.ws, **info}
    ceiling_base = {"benchmark": "B4", "impl": "bare-uvloop-ceiling", **info}
    plain_at_slow_n: dict[str, Any] | None = None
    for n in args.connections:
        for round_ in range(args.rounds):
            with fresh(Server(args.agents, args.ws)) as server:
                cells, got = plain_cases(server, n, args, {**base, "round": round_})
            records += cells
            if n == args.slow_n and plain_at_slow_n is None:
                plain_at_slow_n = got
            if args.ceiling:
                frame_bytes = round(got["frame_bytes"])
                with fresh(CeilingServer(frame_bytes)) as ceiling:
                    bare_base = {**ceiling_base, "round": round_}
                    bare, bare_got = plain_cases(ceiling, n, args, bare_base)
                records += bare
                cells[0]["share_of_ceiling"] = got["messages_per_s"] / max(
                    bare_got["messages_per_s"], 1e-9
                )
                if got["cpu_us_per_message"] and bare_got["cpu_us_per_message"]:
                    # above 1: each frame costs the server more CPU than the bare one
                    cells[0]["cpu_per_message_vs_ceiling"] = (
                        got["cpu_us_per_message"] / bare_got["cpu_us_per_message"]
                    )
    with fresh(Server(args.agents, args.ws)) as server:
        got = run_clients(
            server, args.slow_n, duration=args.duration, pingers=args.pingers, slow=True
        )
        time.sleep(1.5)  # the metrics sync runs once a second
        dropped = server.metric("freeagentics_messages_dropped_total")
    record = {
        **base,
        "case": "slow-client",
        "n": args.slow_n,
        "messages_per_s": got["messages_per_s"],
        "latency_ms_avg": got["latency_ms_avg"],
        "latency_ms_p99": got["latency_ms_p99"],
        "errors": got["errors"],
        "slow_client_frames_dropped": dropped,
    }
    if plain_at_slow_n is not None:
        record["messages_per_s_without_slow_client"] = plain_at_slow_n["messages_per_s"]
        record["latency_ms_p99_without_slow_client"] = plain_at_slow_n["latency_ms_p99"]
    records.append(record)
    return records


def _is_client_worker(process: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):
        return "benchmarks._ws_worker" in process.cmdline()
    return False


def _cpu_s(processes: list[psutil.Process]) -> float:
    """User and system CPU seconds the processes (all their threads) have used."""
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    return total


@contextlib.contextmanager
def fresh(server: Server | CeilingServer) -> Iterator[Server | CeilingServer]:
    """A just-started server, warmed for a second, stopped on leaving."""
    try:
        time.sleep(1.0)  # the demo's first ticks and frames
        yield server
    finally:
        server.stop()


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def print_results(records: list[dict[str, Any]]) -> None:
    rows = []
    for r in records:
        note = ""
        if r["case"] == "broadcast":
            note = (
                f"{r['connected']} held; {r['delivered_fraction']:.0%} of 10 Hz × n; "
                f"{r['frame_bytes']:.0f} B frames; ramp {r['ramp_s']:.1f} s"
            )
            if r.get("cpu_us_per_message") is not None:
                note += (
                    f"; server CPU {r['cpu_percent']:.0f} %, {r['cpu_us_per_message']:.1f} µs/msg; "
                    f"simulation host {r['host_cpu_percent']:.0f} %; "
                    f"clients {r['clients_cpu_percent']:.0f} %; load {r['load_average_1m']:.1f}"
                )
            if "share_of_ceiling" in r:
                note += f"; {r['share_of_ceiling']:.0%} of the ceiling"
        elif r["case"] == "slow-client" and "messages_per_s_without_slow_client" in r:
            note = (
                f"without it: {fmt_number(r['messages_per_s_without_slow_client'])} msg/s, "
                f"p99 {_ms(r['latency_ms_p99_without_slow_client'])} ms; "
                f"{r['slow_client_frames_dropped']:.0f} of its frames dropped"
            )
        rows.append(
            [
                r["impl"],
                r["case"],
                str(r["n"]),
                fmt_number(r.get("messages_per_s")),
                _ms(r.get("latency_ms_avg")),
                _ms(r.get("latency_ms_p99")),
                fmt_bytes(r.get("bytes_per_connection")),
                str(r.get("errors", 0)),
                note,
            ]
        )
    columns = [
        "impl",
        "case",
        "n",
        "msg/s",
        "rtt avg ms",
        "rtt p99 ms",
        "RSS/conn",
        "errors",
        "note",
    ]
    print_table("B4 websocket", columns, rows)
    for key, what in (
        ("share_of_ceiling", "messages/s as a share of the ceiling's"),
        ("cpu_per_message_vs_ceiling", "server CPU per message over the ceiling's"),
    ):
        by_n: dict[int, list[float]] = {}
        for r in records:
            if key in r:
                by_n.setdefault(r["n"], []).append(r[key])
        for n, values in by_n.items():
            listed = ", ".join(f"{v:.2f}" for v in values)
            print(f"n={n}: {what}: median {np.median(values):.2f} ({listed})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 connections, short runs")
    parser.add_argument("--connections", type=int, nargs="+", default=None)
    parser.add_argument("--slow-n", type=int, default=None, help="n of the slow-client case")
    parser.add_argument("--duration", type=float, default=None, help="seconds counted per n")
    parser.add_argument("--pingers", type=int, default=100, help="connections that ping")
    parser.add_argument("--agents", type=int, default=100, help="agents in the demo simulation")
    parser.add_argument(
        "--ws", default=WS_PROTOCOL, help="uvicorn's WebSocket implementation (as `serve` uses)"
    )
    parser.add_argument(
        "--ceiling", action="store_true", help="also run the bare broadcaster (module docstring)"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="times each n runs (with its ceiling, if asked)"
    )
    parser.add_argument("--json", type=Path, default=None, help="write the records here")
    args = parser.parse_args(argv)
    if args.connections is None:
        args.connections = [200] if args.quick else [100, 1000, 10_000]
    if args.slow_n is None:
        args.slow_n = 200 if args.quick else 1000
    if args.duration is None:
        args.duration = 5.0 if args.quick else 10.0
    args.pingers = min(args.pingers, min(args.connections))
    raise_fd_limit()
    records = measure(args)
    print_results(records)
    if args.json is not None:
        write_json(args.json, records)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
