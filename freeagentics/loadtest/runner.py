"""Orchestration: per profile, start the server, drive it with user workers, sample, save.

For each profile a fresh server starts (``freeagentics serve``, so memory figures belong
to that profile and every process the command starts is measured), the profile's
simulation is created over REST and stepped once (the first tick compiles the kernels:
``first_tick_s``, kept out of the measured window), a :class:`~.sampler.Sampler` and a stage
probe (a WebSocket subscribed to the ``metrics`` topic, whose frames carry the tick's
stage timings) start, and user workers (:mod:`.users`, lean clients multiplexed on one
event loop per process, one process per core at most, via :func:`~.measure.run_worker`)
connect. Once all are connected the runner
writes ``go``; the workers warm up, then measure for the profile's duration while a
rich progress display shows live figures. Ctrl-C writes a ``stop`` file: the workers
return what they measured so far and the runner saves it, marked ``interrupted``.

After Ctrl-C the way out is bounded (:class:`~.deadline.WayOut`): the workers' handing
in, the final scrape and summary and the server's orderly stop share
:data:`INTERRUPTED_BUDGET_S` seconds; then the server is killed, with whatever it
started. Nothing slow is left for the way out: the machine is described before the
server starts (that imports numba), the report's plots are small. The record's
``ending_s`` says how long each step of the ending took.

Every profile's figures go to ``raw/profile-<name>.json`` and its latency samples to
``raw/latencies-<name>.json``; the report is built from these files alone.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psutil
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from freeagentics.loadtest.deadline import WayOut
from freeagentics.loadtest.handoff import publish
from freeagentics.loadtest.histogram import LatencyRecord
from freeagentics.loadtest.measure import machine_info, run_worker, write_json
from freeagentics.loadtest.profiles import Profile
from freeagentics.loadtest.sampler import Sampler
from freeagentics.loadtest.server import STOP_GRACE_S as SERVER_STOP_GRACE_S
from freeagentics.loadtest.server import ServerProcess

__all__ = ["REPO_ROOT", "RunOptions", "run_benchmarks", "run_loadtest", "run_profile"]

#: the source checkout this package runs from, if it does: ``benchmarks/`` lives there
REPO_ROOT = Path(__file__).resolve().parents[2]

#: users per worker process: lean users cost little each, and more processes than cores
#: only add switching; the users are spread over at most one process per core
USERS_PER_WORKER = 2500
#: keep-alive REST connections in all: one per user up to this many, then shared (a
#: server's descriptors go first to the users' WebSockets, one each)
HTTP_CONNECTIONS = 1000
#: after Ctrl-C, seconds the user workers get to hand in what they measured (they stop
#: within a poll; one still starting up on a loaded machine has measured nothing)
STOP_GRACE_S = 15.0
#: after Ctrl-C, seconds in all for what is left before the report: the workers hand in,
#: the final figures are read, the server stops in order (then it is killed)
INTERRUPTED_BUDGET_S = 30.0
#: seconds the final scrape and summary may take (at most: after Ctrl-C, less)
FINAL_CALL_S = 30.0
#: seconds the stage probe and the sampler get to finish their last round
THREAD_STOP_S = 5.0
WORKER_MEMORY = 2 << 30


@dataclass
class RunOptions:
    """What ``freeagentics loadtest`` was asked for, besides the profiles."""

    report_dir: Path
    database: str = "sqlite"
    database_url: str | None = None
    skip_engine: bool = False
    skip_database: bool = False
    #: extra environment for the server (tests set FREEAGENTICS_DEBUG_DELAY_MS here)
    server_env: dict[str, str] = field(default_factory=dict)
    #: extra arguments of ``freeagentics serve``
    serve_args: tuple[str, ...] = ()
    #: user worker processes (None: one per USERS_PER_WORKER users, at most one per core)
    generator_processes: int | None = None
    sample_interval_s: float = 0.5
    console: Console | None = None


class StageProbe:
    """A WebSocket on the simulation's ``metrics`` topic, keeping each frame's stage timings."""

    def __init__(self, url: str, sim_id: int, clock: Any):
        self.url, self.sim_id, self.clock = url, sim_id, clock
        self.ticks: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stage-probe", daemon=True)

    def start(self) -> StageProbe:
        self._thread.start()
        return self

    def _run(self) -> None:
        from websockets.sync.client import connect

        try:
            with connect(self.url, compression=None, max_size=None) as ws:
                sub = {"type": "subscribe", "topic": "metrics", "sim_id": self.sim_id, "id": 1}
                ws.send(orjson.dumps(sub).decode())
                while not self._stop.is_set():
                    try:
                        message = ws.recv(timeout=0.2)
                    except TimeoutError:
                        continue
                    doc = orjson.loads(message)
                    if doc.get("type") == "frame":
                        timings = doc["data"].get("timings", {})
                        self.ticks.append({"t": self.clock(), "tick": doc["tick"], **timings})
        except Exception as exc:  # the probe must never take the run down; say why it ended
            self.ticks.append({"t": self.clock(), "probe_error": repr(exc)})

    def stop(self, timeout_s: float = THREAD_STOP_S) -> list[dict[str, Any]]:
        self._stop.set()
        self._thread.join(timeout=timeout_s)
        return list(self.ticks)


def generator_processes(users: int, cores: int | None = None) -> int:
    """User worker processes for ``users`` users: one per :data:`USERS_PER_WORKER`, at most
    one per core (and at least one)."""
    cores = cores or os.cpu_count() or 1
    return max(1, min(cores, math.ceil(users / USERS_PER_WORKER)))


def _worker_specs(
    profile: Profile, server: ServerProcess, sim_id: int, sync: str, workers: int
) -> list[dict]:
    workers = max(1, min(workers, profile.users))
    shares = [profile.users // workers + (i < profile.users % workers) for i in range(workers)]
    http = min(profile.users, HTTP_CONNECTIONS)
    k = max(1, round(profile.users * profile.command_share))
    cmd = sorted({int(i * profile.users / k) for i in range(k)})  # spread over the workers
    specs, first = [], 0
    for i, share in enumerate(shares):
        specs.append(
            {
                "index": i,
                "base": server.base,
                "ws_url": server.ws_url,
                "sim_id": sim_id,
                "users": share,
                "http_connections": max(1, http * share // profile.users),
                "first_user": first,
                "cmd": [c for c in cmd if first <= c < first + share],
                "command_users": len(cmd),
                "think_s": profile.think_s,
                "ping_interval_s": profile.ping_interval_s,
                "tick_rate_hz": profile.tick_rate_hz,
                "warmup_s": profile.warmup_s,
                "duration_s": profile.duration_s,
                "sync_dir": sync,
                "ready_timeout_s": 120 + profile.users / 20 + profile.agents / 500,
                "lifeline": True,  # stop if the load test dies (run_worker's stdin pipe)
            }
        )
        first += share
    return specs


def server_rss(pid: int) -> int:
    """Resident bytes of process ``pid`` and every process below it."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total


def _merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The workers' results as one: summed counts, merged latency records."""
    merged: dict[str, Any] = {
        k: sum(r[k] for r in results)
        for k in ("users", "connected", "command_users", "operations", "frames", "frame_bytes")
    }
    merged["cpu_s"] = sum(r.get("cpu_s", 0.0) for r in results)
    merged["http"] = {
        k: sum(r.get("http", {}).get(k, 0) for r in results)
        for k in ("limit", "opened", "queued", "retried")
    }
    merged["elapsed_s"] = max((r["elapsed_s"] for r in results), default=0.0)
    merged["ramp_s"] = max((r["ramp_s"] for r in results), default=0.0)
    errors: dict[str, int] = {}
    for r in results:
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
    merged["errors"] = errors
    merged["error_examples"] = {}
    for r in results:
        for k, v in r.get("error_examples", {}).items():
            merged["error_examples"].setdefault(k, v)
    records: dict[str, LatencyRecord] = {}
    for group in ("records", "by_route"):
        for r in results:
            for k, doc in r[group].items():
                key = k if group == "records" else f"rest_{k}"
                records[key] = records.get(key, LatencyRecord()).merge(LatencyRecord.from_json(doc))
    merged["latency"] = {k: rec.summary() for k, rec in records.items()}
    merged["_records"] = records
    return merged


def _wait_ready(sync: Path, workers: int, futures: list[Future], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while len(list(sync.glob("ready-*"))) < workers:
        failed = [f.result() for f in futures if f.done()]
        if failed or time.monotonic() > deadline:
            raise RuntimeError(f"user workers did not connect: {failed or 'timed out'}")
        time.sleep(0.1)


def run_profile(profile: Profile, options: RunOptions) -> dict[str, Any]:
    """Run one profile; the raw record (``interrupted`` when Ctrl-C cut it short)."""
    console = options.console or Console()
    machine = machine_info()  # now, not on the way out: it imports numba
    env = {"FREEAGENTICS_TICK_RATE_HZ": str(profile.tick_rate_hz), **options.server_env}
    server = ServerProcess(
        database=options.database,
        database_url=options.database_url,
        env=env,
        command="serve",
        serve_args=options.serve_args,
    )
    server.start(timeout_s=120)
    interrupted = False
    way_out = WayOut()
    try:
        rss_empty = server_rss(server.pid)
        t_create = time.perf_counter()
        sim = server.create_simulation(profile.agents, f"loadtest-{profile.name}")
        create_s = time.perf_counter() - t_create
        rss_agents = server_rss(server.pid)
        # one tick before anyone measures: the first compiles the kernels (a one-off cost
        # of seconds, reported as first_tick_s, not a latency users meet in steady state)
        t_tick = time.perf_counter()
        server.step(sim["id"])
        first_tick_s = time.perf_counter() - t_tick
        rss_stepped = server_rss(server.pid)  # with the compiled kernels: the base for users
        sampler = Sampler(server.pid, options.sample_interval_s).start()
        clock = sampler.clock
        probe = StageProbe(server.ws_url, sim["id"], clock).start()
        sync_dir = tempfile.TemporaryDirectory(prefix="fa-loadtest-sync-")
        sync = Path(sync_dir.name)
        workers = options.generator_processes or generator_processes(profile.users)
        specs = _worker_specs(profile, server, sim["id"], sync_dir.name, workers)
        pool = ThreadPoolExecutor(len(specs))
        budget = specs[0]["ready_timeout_s"] + profile.warmup_s + profile.duration_s + 120
        cancel = threading.Event()
        futures = [
            pool.submit(
                run_worker,
                "freeagentics.loadtest.users",
                spec,
                timeout_s=budget,
                memory_budget=WORKER_MEMORY,
                cancel=cancel,
            )
            for spec in specs
        ]
        metrics_start: dict[str, float] = {}
        window = [None, None]
        rss_connected = None
        try:
            _wait_ready(sync, len(specs), futures, specs[0]["ready_timeout_s"])
            time.sleep(1.0)  # let the last subscriptions settle before reading RSS
            rss_connected = server_rss(server.pid)
            go = time.time() + 0.5
            publish(sync / "go", repr(go))
            window[0] = clock() + (go - time.time()) + profile.warmup_s
            window[1] = window[0] + profile.duration_s
            interrupted = _progress(
                profile, sampler, probe, futures, window, server, console, metrics_start
            )
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if interrupted:
                way_out.start(INTERRUPTED_BUDGET_S)
            publish(sync / "stop", "stop")
            if window[1] is not None:
                window[1] = min(window[1], clock())
            with way_out.timed("workers"):
                grace = way_out.cap(STOP_GRACE_S) if interrupted else None
                done = _collect(futures, cancel, grace)
            pool.shutdown(wait=False, cancel_futures=True)
            sync_dir.cleanup()
        with way_out.timed("metrics"):
            metrics_end = server.scrape(way_out.cap(FINAL_CALL_S))
        with way_out.timed("threads"):
            ticks = probe.stop(way_out.cap(THREAD_STOP_S))
            samples = sampler.stop(way_out.cap(THREAD_STOP_S))
        with way_out.timed("summary"):
            try:
                summary = server.simulation(sim["id"], way_out.cap(FINAL_CALL_S))
            except Exception:
                summary = sim
    except KeyboardInterrupt:  # while starting, or a second Ctrl-C on the way out
        way_out.start(INTERRUPTED_BUDGET_S)
        raise
    finally:
        with way_out.timed("server"):
            server.stop(way_out.cap(SERVER_STOP_GRACE_S))
    good = [r for r in done if "users" in r]
    merged = _merge(good) if good else _merge([])
    records = merged.pop("_records")
    base = {"benchmark": "B6", "case": profile.name, "impl": "freeagentics", "n": profile.agents}
    return {
        "record": {
            **base,
            "profile": profile.to_json(),
            "interrupted": interrupted,
            "database": options.database,
            "server_env": options.server_env,
            "simulation": summary,
            "create_s": create_s,
            "first_tick_s": first_tick_s,
            "rss_empty_mb": rss_empty / 2**20,
            "rss_agents_mb": rss_agents / 2**20,
            "rss_stepped_mb": rss_stepped / 2**20,
            "rss_connected_mb": None if rss_connected is None else rss_connected / 2**20,
            "window": window,
            "workers": len(good),
            "server_processes": {str(pid): label for pid, label in sampler.labels.items()},
            "worker_failures": [r for r in done if "users" not in r],
            "users": merged,
            "samples": samples,
            "stage_ticks": ticks,
            "metrics_start": metrics_start,
            "metrics_end": metrics_end,
            "machine": machine,
            # seconds each step of the ending took (after Ctrl-C, within the budget)
            "ending_s": way_out.steps,
            # the scheduling priority the load test (and so its server and users) ran at:
            # below 0 when it was given precedence over other work on a shared machine
            "nice": os.getpriority(os.PRIO_PROCESS, 0),
        },
        "latencies": {k: rec.to_json() for k, rec in records.items()},
    }


def _collect(
    futures: list[Future], cancel: threading.Event, grace_s: float | None
) -> list[dict[str, Any]]:
    """The workers' results. Workers still running ``grace_s`` seconds from now (None: no
    limit but their own budget), or at a second Ctrl-C, are killed and say so."""
    deadline = None if grace_s is None else time.monotonic() + grace_s
    pending = set(futures)
    try:
        while pending:
            if deadline is not None and time.monotonic() > deadline:
                cancel.set()
            _, pending = wait(pending, timeout=0.2)
    except KeyboardInterrupt:
        cancel.set()
        wait(futures)  # each watchdog kills its worker within a poll
    return [f.result() for f in futures]


def _progress(
    profile: Profile,
    sampler: Sampler,
    probe: StageProbe,
    futures: list[Future],
    window: list,
    server: ServerProcess,
    console: Console,
    metrics_start: dict[str, float],
) -> bool:
    """Show live figures until the window ends; scrape /metrics into ``metrics_start`` as it
    opens (so counters can be differenced over the window). True on Ctrl-C."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[live]}"),
    )
    total = window[1]
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(
            f"{profile.name} ({profile.agents} agents, {profile.users} users)",
            total=total,
            live="warming up",
        )
        measuring = False
        try:
            while True:
                now = sampler.clock()
                if not measuring and now >= window[0]:
                    measuring = True
                    metrics_start.update(server.scrape())
                    progress.console.print(
                        f"measuring {profile.name} for {profile.duration_s:g} s "
                        "(Ctrl-C stops and keeps what was measured)"
                    )
                s = sampler.latest()
                ticks = [t for t in probe.ticks if "probe_error" not in t]
                tick = ticks[-1]["tick"] if ticks else 0
                live = (
                    f"server {s.get('server_cpu_percent') or 0:.0f}% CPU "
                    f"{s.get('server_rss_mb') or 0:.0f} MB · tick {tick}"
                    f" · users {s.get('clients_cpu_percent') or 0:.0f}% CPU"
                )
                progress.update(task, completed=min(now, total), live=live)
                if now >= window[1] + 0.5 or all(f.done() for f in futures):
                    return False
                time.sleep(0.25)
        except KeyboardInterrupt:
            progress.update(task, live="[red]interrupted: saving what was measured")
            return True


def save_profile(result: dict[str, Any], raw_dir: Path) -> Path:
    """Write the profile's two raw files; the path of the main one."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    name = result["record"]["case"]
    path = raw_dir / f"profile-{name}.json"
    write_json(path, [result["record"]])
    (raw_dir / f"latencies-{name}.json").write_text(json.dumps(result["latencies"]))
    return path


def _bench(script: str, args: list[str], out: Path, console: Console) -> bool:
    """Run ``benchmarks/<script>`` with ``--json out``; its output goes beside the JSON."""
    env = dict(os.environ)
    peer = REPO_ROOT / ".peers" / "pymdp-1.0.4"
    if peer.exists():
        env.setdefault("FREEAGENTICS_PYMDP1_PATH", str(peer))
    cmd = [sys.executable, str(REPO_ROOT / "benchmarks" / script), *args, "--json", str(out)]
    console.print(f"[bold]running[/] {' '.join(cmd[1:])}")
    with out.with_suffix(".log").open("w") as log:
        code = subprocess.call(cmd, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return code == 0 and out.exists()


def run_benchmarks(options: RunOptions, raw_dir: Path) -> None:
    """The engine (B1) and database (B3) benchmarks on small grids, JSON into ``raw_dir``.

    Their scripts are in the source checkout's ``benchmarks/``; an installed package
    without the checkout says so and the report leaves those sections out.
    """
    console = options.console or Console()
    raw_dir.mkdir(parents=True, exist_ok=True)
    if options.skip_engine and options.skip_database:
        return
    if not (REPO_ROOT / "pyproject.toml").exists() or not (REPO_ROOT / "benchmarks").is_dir():
        console.print(
            "[yellow]engine and database benchmarks skipped:[/] their scripts (benchmarks/) "
            "come with the source checkout, not the installed package"
        )
        return
    if not options.skip_engine:
        grid = ["--cases", "explorer", "--n", "1", "10", "30", "50", "1000"]
        _bench(
            "engine.py",
            [*grid, "--cell-seconds", "0.3", "--timeout", "120"],
            raw_dir / "engine.json",
            console,
        )
    if not options.skip_database:
        backends = ["sqlite"] + (["postgresql"] if options.database == "postgresql" else [])
        args = ["--quick", "--backends", *backends]
        if options.database == "postgresql" and options.database_url:
            args += ["--postgres-url", options.database_url]
        _bench("database.py", args, raw_dir / "database.json", console)


def run_loadtest(profiles: list[Profile], options: RunOptions) -> tuple[Path, bool]:
    """Run every profile, the benchmarks and the report; (report path, interrupted)."""
    from freeagentics.loadtest.report import write_report

    console = options.console or Console()
    raw_dir = options.report_dir / "raw"
    interrupted = False
    for profile in profiles:
        try:
            result = run_profile(profile, options)
        except KeyboardInterrupt:
            interrupted = True
            break
        path = save_profile(result, raw_dir)
        console.print(f"[green]saved[/] {path}")
        if result["record"]["interrupted"]:
            interrupted = True
            break
    if not interrupted:
        try:
            run_benchmarks(options, raw_dir)
        except KeyboardInterrupt:
            interrupted = True
    report = write_report(options.report_dir)
    return report, interrupted
