"""B8 (a) ``api-workers``: REST requests/s and WebSocket msg/s with 1 and 2 API workers.

For each worker count n (1, 2), in turn for ``--rounds`` rounds, the real server starts
afresh: ``freeagentics serve --workers n`` (n = 1: one API process, its frames pushed by
the host over its socket; n = 2: the supervisor, two workers on one listening socket,
frames through Redis), both with one simulation host, a fresh PostgreSQL database and
Redis (admission budgets in Redis in both, limits high enough never to throttle), the
demo scenario of ``--agents`` agents stepping at 10 Hz, frames at 10 Hz. Then, each
for ``--duration`` seconds after every client is connected:

* ``rest-host`` — ``GET /api/v1/simulations/{id}`` (answered by the host through the
  worker) and ``rest-live`` — ``GET /api/v1/health/live`` (the worker alone), each
  from ``--http-connections`` keep-alive connections, every one a closed loop of GETs
  (:mod:`benchmarks._http_worker`, one uvloop process): ``requests_per_s``, latency
  avg / p50 / p95 / p99, and how the requests fell on the workers;
* ``websocket`` — ``--connections`` sockets subscribed to the world topic in
  MessagePack, ``--pingers`` of them pinging every 100 ms (B4's clients,
  :mod:`benchmarks._ws_worker`): ``messages_per_s``, ``delivered_fraction`` of 10 Hz
  × n, ping round trip avg / p99.

Each record carries the CPU used while counting, in % of one core:
``server_cpu_percent`` (supervisor, workers and host together), ``client_cpu_percent``
(this benchmark's client processes), ``redis_cpu_percent``, ``machine_cpu_percent``
(every core's busy time, 100 per core) and ``other_cpu_percent`` (the machine's busy
time beyond those: the database, and whatever else runs on the machine), with the
one-minute ``load_average`` at the start of the cell, so that what bounds a figure can be
read beside it; ``per_server_cpu_s`` is the rate per second of server CPU (requests or
messages a core's second buys), which the share of a busy machine the server gets does
not move.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

from benchmarks._common import REPO_ROOT, run_worker

__all__ = ["WorkersServer", "measure_api_workers"]

API = "/api/v1"
WS_CONNECTIONS_PER_CLIENT = 2500
CLIENT_MEMORY = 3 << 30


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _redis_processes() -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name"]):
        if (proc.info.get("name") or "").startswith("redis-server"):
            found.append(proc)
    return found


class WorkersServer:
    """``freeagentics serve --workers n`` in a subprocess, on a fresh PostgreSQL
    database (made from ``database_url``'s server, dropped at :meth:`stop`) and Redis
    under a prefix of its own, with the demo simulation stepping."""

    def __init__(self, workers: int, *, database_url: str, redis_url: str, agents: int):
        import sqlalchemy as sa

        self.workers, self.redis_url = workers, redis_url
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = f"ws://127.0.0.1:{self.port}/ws"
        self.prefix = f"fa-b8a-{uuid.uuid4().hex[:8]}"
        self._admin = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
        self._database = f"fa_b8a_{uuid.uuid4().hex[:10]}"
        with self._admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{self._database}"')
        url = sa.make_url(database_url).set(database=self._database)
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            "FREEAGENTICS_DATABASE_URL": url.render_as_string(hide_password=False),
            "FREEAGENTICS_REDIS_URL": redis_url,
            "FREEAGENTICS_WS_REDIS_PREFIX": self.prefix,
            "FREEAGENTICS_SHARED_LIMITS_PREFIX": f"{self.prefix}:limits",
            "FREEAGENTICS_RATE_LIMIT_PER_MINUTE": "100000000",
            "FREEAGENTICS_WS_CONNECTS_PER_MINUTE": "100000000",
            "FREEAGENTICS_WS_CONNECTIONS_PER_ADDRESS": "1000000",
            "FREEAGENTICS_WS_MESSAGES_PER_SECOND": "100000",
            "FREEAGENTICS_WS_MESSAGE_BURST": "100000",
            "FREEAGENTICS_TICK_RATE_HZ": "10",
            "FREEAGENTICS_FRAME_RATE_HZ": "10",
            "FREEAGENTICS_LOG_FORMAT": "text",
        }
        self.log_path = Path(tempfile.mkstemp(prefix="fa-b8a-", suffix=".log")[1])
        cmd = [sys.executable, "-m", "freeagentics.cli", "serve", "--no-demo"]
        cmd += ["--workers", str(workers), "--port", str(self.port)]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd, env=env, stdout=log, stderr=log, cwd=REPO_ROOT, start_new_session=True
            )
        try:
            self._wait_ready()
            from freeagentics.server.demo import demo_scenario

            body = {"name": "b8a", "scenario": demo_scenario(agents), "start": True}
            r = httpx.post(f"{self.base}{API}/simulations", json=body, timeout=300)
            r.raise_for_status()
            self.sim_id = r.json()["id"]
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout_s: float = 180.0) -> None:
        """Until every worker answers ``/health/ready`` (fresh connections land on any)."""
        seen: set[str] = set()
        deadline = time.monotonic() + timeout_s
        while len(seen) < self.workers:
            try:
                r = httpx.get(f"{self.base}{API}/health/ready", timeout=5)
                if r.status_code == 200:
                    seen.add(r.headers.get("x-freeagentics-worker", "0"))
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def processes(self) -> list[psutil.Process]:
        return _tree(self.proc.pid)

    def rss(self) -> int:
        total = 0
        for proc in self.processes():
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        return total

    def stop(self) -> None:
        family = self.processes()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for proc in family[1:]:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        with contextlib.suppress(Exception):
            import redis

            client = redis.Redis.from_url(self.redis_url)
            keys = list(client.scan_iter(f"{self.prefix}*"))
            if keys:
                client.delete(*keys)
            client.close()
        with self._admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self._database}" WITH (FORCE)')
        self._admin.dispose()
        self.log_path.unlink(missing_ok=True)


def _free_port() -> int:
    from freeagentics.loadtest.server import free_port

    return free_port()


class _Window:
    """CPU seconds between two marks of the server's processes, this benchmark's client
    processes, Redis, and the whole machine (processes present at both marks)."""

    def __init__(self, server: WorkersServer):
        self.server, self.redis = server, _redis_processes()
        self.marks: list[tuple[float, dict[str, dict[int, float]], float]] = []

    def mark(self) -> None:
        server = {p.pid: p for p in self.server.processes()}
        clients = [p for p in psutil.Process().children(recursive=True) if p.pid not in server]
        groups = {"server": list(server.values()), "client": clients, "redis": self.redis}
        seconds = {name: _cpu_by_pid(procs) for name, procs in groups.items()}
        machine = psutil.cpu_times()
        busy = machine.user + machine.nice + machine.system + machine.irq + machine.softirq
        self.marks.append((time.perf_counter(), seconds, busy))

    def percents(self) -> dict[str, float]:
        (t0, before, m0), (t1, after, m1) = self.marks[0], self.marks[-1]
        span = max(t1 - t0, 1e-9)
        out: dict[str, float] = {}
        for name in ("server", "client", "redis"):
            now = after[name]
            used = sum(now[pid] - s for pid, s in before[name].items() if pid in now)
            out[f"{name}_cpu_percent"] = 100 * used / span
        out["machine_cpu_percent"] = 100 * (m1 - m0) / span
        out["client_processes"] = len(set(before["client"]) & set(after["client"]))
        out["other_cpu_percent"] = out["machine_cpu_percent"] - sum(
            out[f"{name}_cpu_percent"] for name in ("server", "client", "redis")
        )
        return out


def _cpu_by_pid(procs: list[psutil.Process]) -> dict[int, float]:
    out = {}
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            out[proc.pid] = times.user + times.system
    return out


def _run_clients(
    module: str,
    specs: list[dict[str, Any]],
    window: _Window,
    args: argparse.Namespace,
    ramp_s: float,
) -> list[dict[str, Any]]:
    """Run client processes that write ``ready-<i>`` and count from the ``go`` time for
    ``args.duration`` s; the CPU window spans the counting."""
    duration, settle_s = args.duration, 0.2 if args.quick else 1.0
    with tempfile.TemporaryDirectory(prefix="fa-b8a-sync-") as sync:
        for spec in specs:
            spec.update(sync_dir=sync, duration_s=duration, ready_timeout_s=ramp_s)

        def go_when_ready() -> None:
            deadline = time.monotonic() + ramp_s
            while len(list(Path(sync).glob("ready-*"))) < len(specs):
                if time.monotonic() > deadline:
                    return
                time.sleep(0.05)
            time.sleep(settle_s)  # the last subscriptions settle
            go = time.time() + 0.5
            staged = Path(sync) / "go.tmp"
            staged.write_text(str(go))
            staged.rename(staged.with_name("go"))  # whole: never read half-written
            margin = min(0.2, duration / 10)  # the clients are surely counting, and alive
            time.sleep(max(0.0, go + margin - time.time()))
            window.mark()
            time.sleep(duration - 2 * margin)
            window.mark()

        starter = threading.Thread(target=go_when_ready, daemon=True)
        starter.start()
        with ThreadPoolExecutor(len(specs)) as pool:
            futures = [
                pool.submit(
                    run_worker,
                    module,
                    spec,
                    timeout_s=ramp_s + duration + 60,
                    memory_budget=CLIENT_MEMORY,
                )
                for spec in specs
            ]
            results = [f.result() for f in futures]
        starter.join()
    failed = [r for r in results if "connected" not in r]
    if failed:
        raise RuntimeError(f"client processes failed: {failed}")
    return results


def _latencies(values: list[float]) -> dict[str, float | None]:
    ms = np.asarray(values, dtype=float) * 1e3
    if not ms.size:
        return {k: None for k in ("latency_ms_avg", "latency_ms_p50", "latency_ms_p95")}
    return {
        "latency_ms_avg": float(ms.mean()),
        "latency_ms_p50": float(np.percentile(ms, 50)),
        "latency_ms_p95": float(np.percentile(ms, 95)),
        "latency_ms_p99": float(np.percentile(ms, 99)),
        "latency_ms_max": float(ms.max()),
    }


def measure_rest(server: WorkersServer, path: str, args: argparse.Namespace) -> dict[str, Any]:
    window = _Window(server)
    spec = {"index": 0, "host": "127.0.0.1", "port": server.port, "path": path}
    spec["connections"] = args.http_connections
    (got,) = _run_clients("benchmarks._http_worker", [spec], window, args, 60.0)
    cpu = window.percents()
    return {
        "requests_per_s": got["requests"] / got["elapsed_s"],
        **_latencies(got["latencies"]),
        "connected": got["connected"],
        "by_worker": got["by_worker"],
        "errors": got["errors"] + args.http_connections - got["connected"],
        **cpu,
    }


def measure_websocket(server: WorkersServer, args: argparse.Namespace) -> dict[str, Any]:
    n = args.connections
    clients = max(1, math.ceil(n / WS_CONNECTIONS_PER_CLIENT))
    specs = [
        {
            "index": i,
            "url": server.url,
            "sim_id": server.sim_id,
            "connections": n // clients + (i < n % clients),
            "ramp_batch": 100,
            "pingers": args.pingers // clients + (i < args.pingers % clients),
            "ping_interval_s": 0.1,
            "slow": False,
        }
        for i in range(clients)
    ]
    window = _Window(server)
    results = _run_clients("benchmarks._ws_worker", specs, window, args, 60 + n / 20)
    connected = sum(r["connected"] for r in results)
    messages = sum(r["messages"] / r["elapsed_s"] for r in results)
    lat = _latencies([x for r in results for x in r["latencies"]])
    cpu = window.percents()
    return {
        "messages_per_s": messages,
        "delivered_fraction": messages / (10.0 * max(connected, 1)),
        "latency_ms_avg": lat["latency_ms_avg"],
        "latency_ms_p99": lat.get("latency_ms_p99"),
        "latency_ms_max": lat.get("latency_ms_max"),
        "pings": sum(len(r["latencies"]) for r in results),
        "connected": connected,
        "errors": sum(r["errors"] for r in results) + n - connected,
        "frame_bytes": sum(r["message_bytes"] for r in results)
        / max(1, sum(r["messages"] for r in results)),
        "rss_mb": server.rss() / 2**20,
        **cpu,
    }


def measure_api_workers(args: argparse.Namespace, info: dict[str, Any]) -> list[dict[str, Any]]:
    """The records of part (a): every load at each worker count, for every round."""
    records: list[dict[str, Any]] = []
    base = {"benchmark": "B8", "case": "api-workers", "impl": "freeagentics", "machine": info}
    for round_ in range(args.rounds):
        for n in args.workers:
            cell = {**base, "n": n, "round": round_, "load_average": os.getloadavg()[0]}
            try:
                server = WorkersServer(
                    n, database_url=args.database_url, redis_url=args.redis_url, agents=args.agents
                )
            except Exception as exc:
                records.append({**cell, "error": f"{type(exc).__name__}: {exc}"})
                continue
            try:
                time.sleep(0.2 if args.quick else 1.0)  # the first ticks and frames
                for load in args.loads:
                    if load == "websocket":
                        got = measure_websocket(server, args)
                    else:
                        path = (
                            f"{API}/simulations/{server.sim_id}"
                            if load == "rest-host"
                            else (f"{API}/health/live")
                        )
                        got = measure_rest(server, path, args)
                    key = "messages_per_s" if load == "websocket" else "requests_per_s"
                    server_cores = got["server_cpu_percent"] / 100
                    # what one core's second of the server buys: the figure without the
                    # share of the machine the server happened to get
                    got["per_server_cpu_s"] = got[key] / server_cores if server_cores else None
                    records.append({**cell, "load": load, **got})
                    print(f"[B8a] round {round_} workers={n} {load}: {_brief(got)}", flush=True)
                    _ratio(records, records[-1])
            except Exception as exc:
                records.append({**cell, "error": f"{type(exc).__name__}: {exc}"})
            finally:
                server.stop()
    return records


def _ratio(records: list[dict[str, Any]], record: dict[str, Any]) -> None:
    """Give ``record`` its rate as a multiple of one worker's in the same round."""
    key = "messages_per_s" if record["load"] == "websocket" else "requests_per_s"
    for other in records:
        if (other.get("n"), other.get("round"), other.get("load")) == (
            1,
            record["round"],
            record["load"],
        ) and other.get(key):
            record["ratio_to_one_worker"] = record[key] / other[key]


def _brief(got: dict[str, Any]) -> str:
    rate = got.get("requests_per_s") or got.get("messages_per_s") or 0.0
    return (
        f"{rate:,.0f}/s, p95 {got.get('latency_ms_p95') or got.get('latency_ms_p99') or 0:.1f} ms, "
        f"server {got['server_cpu_percent']:.0f} % cpu, machine {got['machine_cpu_percent']:.0f} %"
    )
