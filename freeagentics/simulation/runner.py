"""Run scenarios to completion and record one row of figures per tick; sweep them.

Per-tick table (one row per tick, columns in this order):

* ``tick``, ``agents``;
* ``<metric>_mean``, ``<metric>_p5``, ``<metric>_p95`` for every per-agent metric of
  :attr:`TickEvents.metrics` (empty on ticks where the simulation did not refresh its
  metrics, see ``metrics_every``) and for ``energy``;
* ``coalition_members`` (agents in a coalition), ``coalitions`` (distinct ones),
  ``knowledge_nodes``, ``knowledge_edges``;
* the activity of :attr:`TickEvents.activity`: ``moving_fraction``,
  ``moving_fraction_avg``, ``alive_fraction``, ``alive``, ``dead``, ``stuck``,
  ``collected``, and ``warnings`` (codes such as ``frozen dying``, empty when all is well);
* ``<stage>_ms`` for every stage of :attr:`TickEvents.timings`, and ``tick_ms`` (their sum);
* ``scenario``, ``seed`` and ``freeagentics_version``: the same on every row, so a row
  says where it came from wherever it is copied (Parquet files also carry them as file
  metadata, under ``freeagentics.scenario``, ``freeagentics.seed`` and
  ``freeagentics.version``).

Written as CSV (``.csv``) or Parquet (``.parquet``), chosen by the output's extension,
once the run ends — also when it ends early: the first Ctrl-C asks the simulation to stop
after the tick in progress (a second one interrupts at once), and either way the rows so
far are written. Without an output path the run only reports its final row.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import multiprocessing
import re
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from freeagentics import __version__
from freeagentics.errors import ConfigurationError
from freeagentics.simulation._events import TickEvents
from freeagentics.simulation.scenario import Scenario
from freeagentics.simulation.simulation import Simulation

__all__ = ["FORMATS", "RunResult", "SweepResult", "SweepRun", "run_scenario", "sweep"]

FORMATS = (".csv", ".parquet")
Row = dict[str, float | int]


@dataclass(frozen=True)
class RunResult:
    """What :func:`run_scenario` did.

    ``final`` is the last row recorded (empty when no tick ran); ``path`` the results
    file (None when none was asked for); ``checkpoint`` the latest checkpoint file, if
    any was written.
    """

    name: str
    path: Path | None
    ticks_requested: int
    ticks_run: int
    interrupted: bool
    wall_s: float
    final: dict[str, float | int] = field(default_factory=dict)
    checkpoint: Path | None = None


# ---------------------------------------------------------------------- the table
class _Recorder:
    """Turns each tick's events into a row; remembers metric and stage names in order."""

    def __init__(self, sim: Simulation):
        self.sim = sim
        self.rows: list[Row] = []
        self.metrics: dict[str, None] = {}  # ordered sets
        self.stages: dict[str, None] = {}

    def record(self, events: TickEvents) -> Row:
        row: Row = {"tick": events.tick, "agents": int(events.ids.size)}
        # metrics are refreshed every few ticks; stale ones are left out of the row
        per_agent = dict(events.metrics) if events.metrics_tick == events.tick else {}
        per_agent["energy"] = events.energy
        for name, values in per_agent.items():
            self.metrics.setdefault(name)
            if values.size:
                p5, p95 = np.percentile(values, [5, 95])
                row.update({f"{name}_mean": float(values.mean()), f"{name}_p5": float(p5)})
                row[f"{name}_p95"] = float(p95)
        members = events.coalition[events.coalition >= 0]
        row["coalition_members"] = int(members.size)
        row["coalitions"] = int(np.unique(members).size)
        row["knowledge_nodes"] = self.sim.knowledge.count_nodes()
        row["knowledge_edges"] = self.sim.knowledge.count_edges()
        activity = events.activity
        for name in ACTIVITY:
            if name in activity:
                row[name] = activity[name]
        if activity:
            row["warnings"] = " ".join(w["code"] for w in activity["warnings"])
        for stage, seconds in events.timings.items():
            self.stages.setdefault(stage)
            row[f"{stage}_ms"] = seconds * 1e3
        row["tick_ms"] = sum(events.timings.values()) * 1e3
        self.rows.append(row)
        return row

    def columns(self) -> list[str]:
        stats = [f"{m}_{s}" for m in sorted(self.metrics, key=_energy_last) for s in STATS]
        counts = ["coalition_members", "coalitions", "knowledge_nodes", "knowledge_edges"]
        timings = [f"{s}_ms" for s in self.stages] + ["tick_ms"]
        return ["tick", "agents", *stats, *counts, *ACTIVITY, "warnings", *timings]


STATS = ("mean", "p5", "p95")
ACTIVITY = (
    "moving_fraction",
    "moving_fraction_avg",
    "alive_fraction",
    "alive",
    "dead",
    "stuck",
    "collected",
)


def _energy_last(name: str) -> tuple[bool, str]:
    return name == "energy", name


def _check_format(path: Path) -> None:
    if path.suffix.lower() not in FORMATS:
        raise ConfigurationError(f"{path}: results must end in {' or '.join(FORMATS)}")
    if path.suffix.lower() == ".parquet":
        _require_pyarrow(str(path))


def _require_pyarrow(where: str) -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ConfigurationError(
            f"{where}: writing Parquet needs the 'pyarrow' package, which is not "
            "installed (pip install pyarrow), or write .csv instead"
        ) from None


def provenance(scenario: Scenario) -> dict[str, str | int]:
    """The columns every results row carries: scenario name, seed, FreeAgentics version."""
    return {"scenario": scenario.name, "seed": scenario.config.seed, **VERSION_COLUMN}


VERSION_COLUMN = {"freeagentics_version": __version__}


def write_table(
    path: Path,
    columns: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    metadata: Mapping[str, str | int] | None = None,
) -> None:
    """Write ``rows`` (missing or NaN values left empty/null) by ``path``'s extension.

    ``metadata`` goes into a Parquet file's key-value metadata as ``freeagentics.<key>``
    (a CSV file carries the same facts as columns). Written to a temporary name first,
    so a crash never leaves a truncated file behind.
    """
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix.lower() == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        data = {c: [_null_nan(r.get(c)) for r in rows] for c in columns}
        table = pa.table(data)
        if metadata:
            extra = {f"freeagentics.{k}".encode(): str(v).encode() for k, v in metadata.items()}
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), **extra})
        pq.write_table(table, tmp)
    else:
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([_cell(row.get(c)) for c in columns])
    tmp.replace(path)


def _null_nan(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.7g}"
    return str(value)


def _metadata(columns: Mapping[str, str | int]) -> dict[str, str | int]:
    """Provenance columns as Parquet metadata keys: ``freeagentics_version`` → ``version``."""
    return {k.removeprefix("freeagentics_"): v for k, v in columns.items()}


# ---------------------------------------------------------------------- one run
class _StopOnInterrupt:
    """While active (main thread only), the first SIGINT pauses ``sim`` after the tick in
    progress; the second raises :class:`KeyboardInterrupt` as usual."""

    def __init__(self, sim: Simulation):
        self.sim = sim
        self.requested = False
        self._previous: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True
        self.sim.pause()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __enter__(self) -> _StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _progress(enabled: bool, unit: str):
    """A rich progress bar on stderr counting ``unit``, or ``None`` when not ``enabled``."""
    if not enabled:
        return nullcontext(None)
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(f"{unit}  {{task.fields[rate]}}"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )


def run_scenario(
    scenario: Scenario,
    out_path: str | Path | None,
    *,
    progress: bool = True,
    checkpoint_every: int | None = None,
    on_tick: Callable[[TickEvents], None] | None = None,
) -> RunResult:
    """Run ``scenario.ticks`` ticks and write the per-tick table to ``out_path``.

    Args:
        out_path: ``.csv`` or ``.parquet``; its folder must exist. None: no file, the
            result's ``final`` row only.
        progress: show a progress bar on stderr.
        checkpoint_every: also write a checkpoint every that many ticks, to
            ``out_path`` with the suffix ``.ckpt`` (replaced each time; see
            :meth:`Simulation.restore`); needs ``out_path``.
        on_tick: called with each tick's events after its row is recorded; a
            :class:`KeyboardInterrupt` raised there stops the run like Ctrl-C.
    """
    out = None if out_path is None else Path(out_path)
    if out is not None:
        _check_format(out)
    elif checkpoint_every is not None:
        raise ConfigurationError(
            "checkpoint_every: needs a results path (the checkpoint is written beside it)"
        )
    if checkpoint_every is not None and (
        isinstance(checkpoint_every, bool)
        or not isinstance(checkpoint_every, int)
        or checkpoint_every < 1
    ):
        raise ConfigurationError(
            f"checkpoint_every: expected an integer >= 1, got {checkpoint_every!r}"
        )
    if out is not None and not out.parent.is_dir():
        raise ConfigurationError(f"{out}: the folder {out.parent} does not exist")
    try:
        sim = Simulation(scenario.config)
    except ConfigurationError as exc:
        raise ConfigurationError(f"scenario {scenario.name!r}: {exc}") from None
    recorder = _Recorder(sim)
    checkpoint = out.with_suffix(".ckpt") if out is not None and checkpoint_every else None
    written: Path | None = None
    interrupted = False
    start = time.perf_counter()
    with _progress(progress, "ticks") as bar, _StopOnInterrupt(sim) as stop:
        task = bar.add_task(scenario.name, total=scenario.ticks, rate="") if bar else None

        def tick(events: TickEvents) -> None:
            nonlocal written
            row = recorder.record(events)
            if checkpoint is not None and events.tick % checkpoint_every == 0:
                written = sim.checkpoint(checkpoint)
            if bar is not None:
                bar.update(task, advance=1, rate=f"{row['tick_ms']:.1f} ms/tick")
            if on_tick is not None:
                on_tick(events)

        try:
            sim.run(scenario.ticks, on_tick=tick)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if out is not None:
                origin = provenance(scenario)
                rows = [{**row, **origin} for row in recorder.rows]
                write_table(out, [*recorder.columns(), *origin], rows, _metadata(origin))
            sim.bus.close()
        interrupted = interrupted or stop.requested
    return RunResult(
        name=scenario.name,
        path=out,
        ticks_requested=scenario.ticks,
        ticks_run=len(recorder.rows),
        interrupted=interrupted,
        wall_s=time.perf_counter() - start,
        final=dict(recorder.rows[-1]) if recorder.rows else {},
        checkpoint=written,
    )


# ---------------------------------------------------------------------- sweeps
@dataclass(frozen=True)
class SweepRun:
    """One (seed, overrides) combination of a sweep and what became of it."""

    index: int
    seed: int
    overrides: dict[str, Any]
    path: Path
    result: RunResult | None = None
    error: str | None = None


@dataclass(frozen=True)
class SweepResult:
    """The summary file and every run, in (seed, overrides) order."""

    summary: Path
    runs: tuple[SweepRun, ...]

    @property
    def failed(self) -> tuple[SweepRun, ...]:
        """Runs that raised (not those cancelled by an interruption)."""
        return tuple(r for r in self.runs if r.result is None and r.error != "cancelled")

    @property
    def interrupted(self) -> bool:
        """Whether Ctrl-C cut the sweep short (runs interrupted or cancelled)."""
        return any(r.error == "cancelled" or (r.result and r.result.interrupted) for r in self.runs)


_STOP: Any = None  # in a sweep worker: the sweep's stop event


def _init_worker(stop: Any) -> None:
    """Workers ignore Ctrl-C between runs (during one, run_scenario stops it cleanly) and
    watch the sweep's stop event, which the parent sets when it is interrupted."""
    global _STOP
    _STOP = stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop_requested(events: TickEvents) -> None:
    if _STOP is not None and _STOP.is_set():
        raise KeyboardInterrupt


def _run_one(scenario: Scenario, path: Path) -> RunResult | None:
    """One run of a sweep; None when the sweep was stopped before it began."""
    if _STOP is not None and _STOP.is_set():  # queued ahead before the stop: skip it
        return None
    return run_scenario(scenario, path, progress=False, on_tick=_stop_requested)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "scenario"


def sweep(
    scenario: Scenario,
    seeds: Sequence[int],
    overrides: Sequence[Mapping[str, Any]],
    out_dir: str | Path,
    processes: int = 1,
    *,
    fmt: str = ".csv",
    progress: bool = True,
) -> SweepResult:
    """Run every (seed × overrides) combination, ``processes`` at a time.

    Each run writes ``<name>_seed<S>_set<J><fmt>`` in ``out_dir`` (J indexes
    ``overrides``; no overrides means one set, ``{}``); ``summary<fmt>`` there has one
    row per run: ``run, seed, overrides`` (JSON), ``results`` (file name),
    ``ticks_run, interrupted, wall_s, error``, ``final_<column>`` for every ``*_mean``
    column of the run's last row, then ``scenario`` and ``freeagentics_version`` (also
    the metadata of a Parquet summary, with the seeds). All combinations are validated
    before any process starts.
    """
    seeds = list(seeds)
    sets = [dict(o) for o in overrides] or [{}]
    if not seeds:
        raise ConfigurationError("seeds: at least one seed is needed")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise ConfigurationError(f"seeds: expected integers >= 0, got {s!r}")
    if len(set(seeds)) != len(seeds):
        raise ConfigurationError(f"seeds: each seed once, got {seeds}")
    if any("scenario.seed" in o for o in sets):
        raise ConfigurationError("overrides: set seeds with the seeds argument, not scenario.seed")
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise ConfigurationError(f"processes: expected an integer >= 1, got {processes!r}")
    if fmt not in FORMATS:
        raise ConfigurationError(f"fmt: expected one of {FORMATS}, got {fmt!r}")
    if fmt == ".parquet":
        _require_pyarrow("fmt")
    out = Path(out_dir)
    plan = []
    for index, (seed, (j, extra)) in enumerate(itertools.product(seeds, enumerate(sets))):
        variant = scenario.with_overrides({**extra, "scenario.seed": seed})
        path = out / f"{_slug(scenario.name)}_seed{seed}_set{j}{fmt}"
        plan.append((SweepRun(index, seed, extra, path), variant))
    out.mkdir(parents=True, exist_ok=True)
    runs: dict[int, SweepRun] = {}
    context = multiprocessing.get_context("spawn")  # no forked numba/thread state
    stop = context.Event()
    workers = min(processes, len(plan))
    with (
        ProcessPoolExecutor(
            workers, mp_context=context, initializer=_init_worker, initargs=(stop,)
        ) as pool,
        _progress(progress, "runs") as bar,
    ):
        task = bar.add_task(f"sweep of {scenario.name}", total=len(plan), rate="") if bar else None
        futures: dict[Future, SweepRun] = {
            pool.submit(_run_one, variant, run.path): run for run, variant in plan
        }
        try:
            for future in as_completed(futures):
                runs[futures[future].index] = _outcome(futures[future], future)
                if bar is not None:
                    bar.update(task, advance=1)
        except KeyboardInterrupt:
            # running runs stop after their tick and write their rows; queued ones are skipped
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            for future, run in futures.items():
                runs.setdefault(run.index, _outcome(run, future))
    ordered = tuple(runs[i] for i in sorted(runs))
    summary = out / f"summary{fmt}"
    _write_summary(summary, ordered, scenario.name)
    return SweepResult(summary=summary, runs=ordered)


def _outcome(run: SweepRun, future: Future) -> SweepRun:
    if future.cancelled() or (future.exception() is None and future.result() is None):
        return replace(run, error="cancelled")
    exc = future.exception()
    if exc is not None:
        return replace(run, error=f"{type(exc).__name__}: {exc}")
    return replace(run, result=future.result())


def _write_summary(path: Path, runs: Sequence[SweepRun], scenario: str) -> None:
    finals: dict[str, None] = {}
    for run in runs:
        if run.result is not None:
            finals.update(dict.fromkeys(k for k in run.result.final if k.endswith("_mean")))
    columns = ["run", "seed", "overrides", "results", "ticks_run", "interrupted", "wall_s"]
    origin = {"scenario": scenario, **VERSION_COLUMN}
    columns += ["error", *(f"final_{k}" for k in finals), *origin]
    rows = []
    for run in runs:
        row: dict[str, Any] = {
            "run": run.index,
            "seed": run.seed,
            "overrides": json.dumps(run.overrides, sort_keys=True),
            "results": run.path.name,
            "error": run.error or "",
            **origin,
        }
        if run.result is not None:
            r = run.result
            row.update(ticks_run=r.ticks_run, interrupted=r.interrupted, wall_s=r.wall_s)
            row.update({f"final_{k}": r.final.get(k) for k in finals})
        rows.append(row)
    seeds = ",".join(str(s) for s in dict.fromkeys(run.seed for run in runs))
    write_table(path, columns, rows, {**_metadata(origin), "seeds": seeds})
