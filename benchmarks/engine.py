"""B1 — engine throughput and scaling efficiency (BENCHMARKS.md).

Usage, from the repository root::

    python benchmarks/engine.py                      # all cases at size 10, N up to 100 000
    python benchmarks/engine.py --quick              # smoke run, well under a minute
    python benchmarks/engine.py --cases explorer deep --sizes 10 20 --json b1.json
    python benchmarks/engine.py --n 1 50 1000 --no-peers
    python benchmarks/engine.py --cases learnerb --n 1000 --general   # fused vs general

What is timed: one agent step for the whole population, ``Cohort.step(obs)`` (state
inference from the observation with the prior from the agent's own previous action,
policy inference, action selection; the Dirichlet update of A in ``learner`` cases,
of A and B in ``learnerb`` cases).
Observations are sampled outside the timed region from a generative process whose true
states follow the agents' actions. Each cell (case, implementation, N) runs in its own
fresh process: warm-up ticks first (they include any compilation), then timed ticks
until a tick count or a time budget is reached; the table reports the median and 95th
percentile tick, agent-steps/s = N / median tick, and E(N) = t(1) / t(N) with t(1)
from the same implementation and case in the same run.

Memory per agent = (RSS with N agents − RSS with 0 agents) / N, both read in the cell's
process (after ``gc.collect()``): "0 agents" after importing, building the model and
warming up/compiling with a population of one agent that is then deleted; "N agents"
after the timed ticks. It is noisy for small N (allocator granularity) and meaningful
from about a thousand agents up.

Peers, on the same model arrays (written by freeagentics' builders to a temporary
``.npz`` that the peer workers read), in the same run:

* ``inferactively-pymdp-1.0.x`` (JAX, one batched agent with batch_size = N, float32,
  calls jitted one by one), in its own interpreter with ``PYTHONPATH`` starting at
  ``$FREEAGENTICS_PYMDP1_PATH`` (default ``.peers/pymdp-1.0.4``, made by ``make peers``);
  up to N = 10 000, skipped when the memory estimate or the measured RSS exceeds the
  budget (``--memory-budget-gb``) or the time estimate exceeds ``--timeout``;
* ``inferactively-pymdp-0.0.7.x`` (numpy), one ``Agent`` per agent in a Python loop,
  up to N = 50.

With ``--general``, freeagentics' general numpy engine (``fast_path=False``) runs as
one more implementation, ``freeagentics-general``, in the same run: what the fused
kernels gain on each case.

The "vs freeagentics" column is freeagentics' agent-steps/s divided by the row's.
Each record also carries the 1-minute load average read when its cell ended
(``load_average_1min``): on a shared machine, what else ran while it was measured;
freeagentics' records also the median CPU time of a timed tick, all threads
(``cpu_s_median``): the work done, whatever share of the machine the process got.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import psutil

from benchmarks._common import (
    REPO_ROOT,
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
from benchmarks._engine_cases import KINDS, Case, parse_case, write_model_npz
from benchmarks._tmaze import CASE as TMAZE
from benchmarks._tmaze import print_tmaze, tmaze_records

FULL_N = (1, 10, 30, 50, 1_000, 10_000, 100_000)
QUICK_N = (1, 50, 1_000)
QUICK_KINDS = ("explorer", "deep")
FREEAGENTICS = "freeagentics"
#: freeagentics with the general numpy engine (``--general``)
GENERAL = "freeagentics-general"
#: reason recorded for cells outside a peer's grid (kept out of the printed tables)
BEYOND_GRID = "beyond this peer's grid"
PYMDP1_RATIO = "freeagentics ÷ pymdp 1.x"


@dataclass(frozen=True)
class Target:
    """A figure freeagentics must reach in one cell: ``tick_s_median`` at most ``bound``,
    ``agent_steps_per_s`` or the ratio to pymdp 1.x in the same run at least ``bound``."""

    case: str
    n: int
    figure: str
    bound: float

    def met(self, value: float) -> bool:
        return value <= self.bound if self.figure == "tick_s_median" else value >= self.bound


#: the report's targets (explorer-10 ticks) and the engine issues' throughput targets
TARGETS = (
    Target("explorer-10", 1, "tick_s_median", 50e-6),
    Target("explorer-10", 50, "tick_s_median", 0.5e-3),
    Target("explorer-10", 100_000, "agent_steps_per_s", 2_000_000),
    Target("learner-10", 1_000, PYMDP1_RATIO, 100),
    Target("learner-10", 100_000, "agent_steps_per_s", 500_000),
    Target("deep-10", 100_000, "agent_steps_per_s", 300_000),
)


@dataclass(frozen=True)
class Impl:
    """An implementation under test and how its cells run."""

    name: str
    module: str
    max_n: int
    warmup: int
    #: fewer timed ticks than the plan's minimum for very slow implementations
    min_ticks: int | None = None
    pythonpath: tuple[str, ...] = ()
    unavailable: str | None = None  # why it cannot run here
    #: freeagentics' worker: whether its cohorts may run the fused kernels
    fast_path: bool = True
    #: whether the worker learns B in ``learnerb`` cases (the peers' workers learn A only)
    learns_B: bool = False


@dataclass
class Plan:
    """Grid and per-cell limits."""

    n_values: list[int]
    timeout_s: float
    memory_budget: int
    budget_s: float
    min_ticks: int
    max_ticks: int


# ---------------------------------------------------------------------- implementations
def _pymdp1_impl(quick: bool) -> Impl:
    folder = Path(os.environ.get("FREEAGENTICS_PYMDP1_PATH", ".peers/pymdp-1.0.4"))
    if not folder.is_absolute():
        folder = REPO_ROOT / folder
    dists = sorted(folder.glob("inferactively_pymdp-*.dist-info"))
    version = dists[-1].name.removesuffix(".dist-info").split("-")[1] if dists else "1.0.4"
    name = f"inferactively-pymdp-{version}"
    missing = None if dists else f"not installed at {folder} (run `make peers`)"
    return Impl(
        name,
        "benchmarks._peers.pymdp1_worker",
        max_n=50 if quick else 10_000,
        warmup=3,
        pythonpath=(str(folder),),
        unavailable=missing,
    )


def _pymdp0_impl(quick: bool) -> Impl:
    from importlib import metadata

    try:
        version = metadata.version("inferactively-pymdp")
    except metadata.PackageNotFoundError:
        version, missing = "0.0.7.1", "inferactively-pymdp 0.0.7.x not installed"
    else:
        missing = None if version.startswith("0.") else f"found pymdp {version}, not 0.0.7.x"
    return Impl(
        f"inferactively-pymdp-{version}",
        "benchmarks._peers.pymdp0_worker",
        max_n=1 if quick else 50,
        warmup=1,
        min_ticks=3,
        unavailable=missing,
    )


def implementations(peers: bool, quick: bool, general: bool = False) -> list[Impl]:
    ours = Impl(FREEAGENTICS, "benchmarks._engine_worker", max_n=10**9, warmup=5, learns_B=True)
    impls = [ours]
    if general:
        impls.append(
            Impl(GENERAL, ours.module, max_n=ours.max_n, warmup=5, fast_path=False, learns_B=True)
        )
    return [*impls, _pymdp1_impl(quick), _pymdp0_impl(quick)] if peers else impls


# ---------------------------------------------------------------------- cells
def _skip_reason(
    case: Case, impl: Impl, n: int, done: list[dict[str, Any]], plan: Plan
) -> str | None:
    """Why a cell should not run, judged before starting it (None: run it)."""
    if impl.unavailable:
        return impl.unavailable
    if case.learn_B and not impl.learns_B:
        return f"{BEYOND_GRID} (its worker learns A only)"
    if n > impl.max_n:
        return f"{BEYOND_GRID} (N ≤ {impl.max_n:,})"
    measured = [r for r in done if r.get("tick_s_median") is not None]
    failed = [
        r for r in done if r.get("skipped") and r["n"] < n and BEYOND_GRID not in r["skipped"]
    ]
    if failed:
        return f"skipped at N = {failed[0]['n']:,} already ({failed[0]['skipped']})"
    if not measured:
        return None
    last = max(measured, key=lambda r: r["n"])
    if last["n"] >= 100 and last["bytes_per_agent"] is not None:
        estimate = last["rss_mb"] * 1e6 + max(last["bytes_per_agent"], 0) * (n - last["n"])
        if estimate > plan.memory_budget:
            return (
                f"estimated RSS {estimate / 2**30:.1f} GiB (from N = {last['n']:,}) over the "
                f"budget of {plan.memory_budget / 2**30:.1f} GiB"
            )
    ticks = impl.warmup + _min_ticks(impl, plan)
    seconds = last["tick_s_median"] * max(n / last["n"], 1) * ticks
    if seconds > 0.8 * plan.timeout_s:  # leave room for start-up and warm-up
        return f"estimated {seconds:.0f} s of ticks (from N = {last['n']:,}) over the timeout"
    return None


def _min_ticks(impl: Impl, plan: Plan) -> int:
    return plan.min_ticks if impl.min_ticks is None else min(impl.min_ticks, plan.min_ticks)


def run_cell(case: Case, impl: Impl, n: int, model_path: Path, plan: Plan) -> dict[str, Any]:
    """Measure one cell in a fresh worker; returns the raw worker result."""
    spec = {
        "kind": case.kind,
        "size": case.size,
        "n": n,
        "seed": 12345,
        "model_path": str(model_path),
        "warmup": impl.warmup,
        "min_ticks": _min_ticks(impl, plan),
        "max_ticks": plan.max_ticks,
        "budget_s": plan.budget_s,
        "fast_path": impl.fast_path,
    }
    return run_worker(
        impl.module,
        spec,
        timeout_s=plan.timeout_s,
        memory_budget=plan.memory_budget,
        pythonpath=impl.pythonpath,
    )


def make_record(
    case: Case, impl: Impl, n: int, result: dict[str, Any], machine: dict[str, Any]
) -> dict[str, Any]:
    """A B1 JSON record from a worker result (efficiency and ratios are added later)."""
    record: dict[str, Any] = {
        "benchmark": "B1",
        "case": case.name,
        "impl": impl.name,
        "n": n,
        "agent_steps_per_s": None,
        "tick_s_median": None,
        "tick_s_p95": None,
        "efficiency": None,
        "bytes_per_agent": None,
        "rss_mb": None,
    }
    times = result.get("tick_times")
    if times:
        median, p95 = tick_stats(times)
        rss_after, rss_base = result["rss_after"], result["rss_base"]
        record.update(
            agent_steps_per_s=n / median,
            tick_s_median=median,
            tick_s_p95=p95,
            bytes_per_agent=(rss_after - rss_base) / n,
            rss_mb=rss_after / 1e6,
            rss_base_mb=rss_base / 1e6,
            ticks=len(times),
        )
        if result.get("cpu_tick_times"):
            record["cpu_s_median"] = float(np.median(result["cpu_tick_times"]))
    else:
        record["skipped"] = result.get("skipped") or f"error: {result.get('error', 'no result')}"
    record.update(machine)
    for key in ("dtype", "numpy_version", "jax_version", "jax_backend", "engine"):
        if key in result:
            record[key] = result[key]
    if impl.name in (FREEAGENTICS, GENERAL) and "numba_threading_layer" in result:
        record["numba_threading_layer_used"] = result["numba_threading_layer"]
    return record


def add_derived(records: list[dict[str, Any]]) -> None:
    """E(N) = t(1)/t(N) per (case, impl); peers' ratio; the targets."""
    t1 = {
        (r["case"], r["impl"]): r["tick_s_median"]
        for r in records
        if r["n"] == 1 and r["tick_s_median"]
    }
    ours = {
        (r["case"], r["n"]): r["agent_steps_per_s"]
        for r in records
        if r["impl"] == FREEAGENTICS and r["agent_steps_per_s"]
    }
    for r in records:
        base = t1.get((r["case"], r["impl"]))
        if base and r["tick_s_median"]:
            r["efficiency"] = base / r["tick_s_median"]
        if r["impl"] != FREEAGENTICS and r["agent_steps_per_s"] and (r["case"], r["n"]) in ours:
            r["freeagentics_ratio"] = ours[(r["case"], r["n"])] / r["agent_steps_per_s"]
    pymdp1 = {
        (r["case"], r["n"]): r.get("freeagentics_ratio")
        for r in records
        if r["impl"].startswith("inferactively-pymdp-1.")
    }
    for r in records:
        target = next(
            (
                t
                for t in TARGETS
                if r["impl"] == FREEAGENTICS and (t.case, t.n) == (r["case"], r["n"])
            ),
            None,
        )
        if target is None:
            continue
        value = (
            pymdp1.get((r["case"], r["n"])) if target.figure == PYMDP1_RATIO else r[target.figure]
        )
        r["target"] = {"figure": target.figure, "bound": target.bound, "value": value}
        if target.figure == "tick_s_median":
            r["target_tick_s"] = target.bound
        if value:
            r["target_met"] = target.met(value)


def _tmaze_cell(impls: list[Impl], machine: dict[str, Any], plan: Plan) -> list[dict[str, Any]]:
    """The one-agent T-maze cell (``benchmarks._tmaze``): pymdp 0.0.7.x runs in the same
    process as ours (even with ``--no-peers``), pymdp 1.x in its own when peers run."""
    pymdp0 = _pymdp0_impl(False)
    pymdp1 = next((i for i in impls if i.name.startswith("inferactively-pymdp-1.")), None)
    records = tmaze_records(
        machine,
        pymdp0=None if pymdp0.unavailable else pymdp0.name,
        pymdp1=None if pymdp1 is None or pymdp1.unavailable else (pymdp1.name, pymdp1.pythonpath),
        budget_s=plan.budget_s,
        timeout_s=plan.timeout_s,
        memory_budget=plan.memory_budget,
    )
    for record in records:
        _progress(record)
    return records


# ---------------------------------------------------------------------- output
COLUMNS = (
    "impl",
    "N",
    "tick median",
    "tick p95",
    "agent-steps/s",
    "E(N)",
    "bytes/agent",
    "freeagentics ÷ impl",
    "note",
)


def _row(r: dict[str, Any]) -> list[str]:
    if r.get("skipped"):
        return [r["impl"], f"{r['n']:,}", "skipped", "", "", "", "", "", r["skipped"]]
    ratio = "1×" if r["impl"] == FREEAGENTICS else fmt_ratio(r.get("freeagentics_ratio"))
    return [
        r["impl"],
        f"{r['n']:,}",
        fmt_seconds(r["tick_s_median"]),
        fmt_seconds(r["tick_s_p95"]),
        fmt_number(r["agent_steps_per_s"]),
        fmt_number(r["efficiency"]),
        fmt_bytes(r["bytes_per_agent"]),
        ratio,
        f"{r['ticks']} ticks, {r.get('dtype', '?')}",
    ]


def print_case(case: str, records: list[dict[str, Any]]) -> None:
    rows = [
        _row(r)
        for r in records
        if r["case"] == case and not r.get("skipped", "").startswith(BEYOND_GRID)
    ]
    print_table(f"B1 {case}", COLUMNS, rows)


def _fmt_target_figure(figure: str, value: float | None) -> str:
    if value is None:
        return "-"
    if figure == "tick_s_median":
        return fmt_seconds(value)
    if figure == PYMDP1_RATIO:
        return fmt_ratio(value)
    return f"{fmt_number(value)} agent-steps/s"


def print_targets(records: list[dict[str, Any]]) -> None:
    rows = []
    for r in records:
        target = r.get("target")
        if target is None:
            continue
        met = r.get("target_met")
        verdict = "-" if met is None else ("met" if met else "NOT met")
        figure = target["figure"]
        bound = "≤ " if figure == "tick_s_median" else "≥ "
        rows.append(
            [
                f"{r['case']}, N = {r['n']:,}",
                _fmt_target_figure(figure, target["value"]),
                bound + _fmt_target_figure(figure, target["bound"]),
                verdict,
            ]
        )
    if rows:
        print_table("Targets (freeagentics)", ("cell", "measured", "target", ""), rows)


# ---------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="B1: engine throughput and scaling efficiency (see BENCHMARKS.md).",
    )
    parser.add_argument(
        "--cases",
        nargs="+",
        default=None,
        help=f"kinds {KINDS}, full names like deep-20, or {TMAZE!r} (one agent, pymdp API) "
        "(default: all; quick: explorer, deep)",
    )
    parser.add_argument(
        "--sizes", "--size", nargs="+", type=int, default=[10], help="grid sizes (default: 10)"
    )
    parser.add_argument("--n", nargs="+", type=int, default=None, help="population sizes")
    parser.add_argument("--quick", action="store_true", help="reduced grid for a smoke check")
    parser.add_argument("--json", type=Path, default=None, help="write the records here")
    parser.add_argument("--no-peers", action="store_true", help="freeagentics only")
    parser.add_argument(
        "--general",
        action="store_true",
        help="also time freeagentics' general numpy engine (fast_path=False), as "
        f"{GENERAL!r}, beside the fused kernels",
    )
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds per cell (default 300; quick 120)"
    )
    parser.add_argument(
        "--cell-seconds",
        type=float,
        default=None,
        help="wall time of timed ticks per cell (default 2; quick 0.3)",
    )
    parser.add_argument(
        "--memory-budget-gb",
        type=float,
        default=None,
        help="per-cell memory limit (default: 60 %% of the memory available at start)",
    )
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.n or ()):
        parser.error("--n values must be >= 1")
    return args


def make_plan(args: argparse.Namespace) -> Plan:
    budget_gb = args.memory_budget_gb or 0.6 * psutil.virtual_memory().available / 2**30
    return Plan(
        n_values=sorted(set(args.n or (QUICK_N if args.quick else FULL_N))),
        timeout_s=args.timeout or (120.0 if args.quick else 300.0),
        memory_budget=int(budget_gb * 2**30),
        budget_s=args.cell_seconds or (0.3 if args.quick else 2.0),
        min_ticks=5,
        max_ticks=50 if args.quick else 200,
    )


def _progress(record: dict[str, Any]) -> None:
    what = record.get("skipped") or (
        f"{fmt_seconds(record['tick_s_median'])} per tick, "
        f"{fmt_number(record['agent_steps_per_s'])} agent-steps/s"
    )
    load, cpu = record.get("load_average_1min"), record.get("cpu_s_median")
    where = "" if cpu is None else f", {fmt_seconds(cpu)} of CPU"
    where += "" if load is None else f" (load average {load:.1f})"
    print(
        f"  {record['case']:<12} {record['impl']:<28} N={record['n']:<7,} {what}{where}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = make_plan(args)
    kinds = args.cases or list(QUICK_KINDS if args.quick else (*KINDS, TMAZE))
    with_tmaze = TMAZE in kinds
    cases = [c for text in kinds if text != TMAZE for c in parse_case(text, args.sizes)]
    impls = implementations(peers=not args.no_peers, quick=args.quick, general=args.general)
    machine = machine_info()
    print(
        f"B1 on {machine['cpu_count']} CPUs, numba threading layer "
        f"{machine['numba_threading_layer']}, numpy {machine['numpy_version']}; "
        f"memory budget per cell {plan.memory_budget / 2**30:.1f} GiB, "
        f"timeout {plan.timeout_s:.0f} s",
        flush=True,
    )
    records: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="fa-b1-") as tmp:
        for case in cases:
            model_path = Path(tmp) / f"{case.name}.npz"
            write_model_npz(case, model_path)
            for impl in impls:
                done: list[dict[str, Any]] = []
                for n in plan.n_values:
                    reason = _skip_reason(case, impl, n, done, plan)
                    result = (
                        {"skipped": reason} if reason else run_cell(case, impl, n, model_path, plan)
                    )
                    record = make_record(case, impl, n, result, machine)
                    # the machine may be shared: what else ran while this cell did
                    record["load_average_1min"] = os.getloadavg()[0]
                    done.append(record)
                    _progress(record)
                records.extend(done)
            add_derived(records)
            print_case(case.name, records)
    if with_tmaze:
        records.extend(_tmaze_cell(impls, machine, plan))
        print_tmaze(records)
    print_targets(records)
    if args.json:
        write_json(args.json, records)
        print(f"wrote {len(records)} records to {args.json}")
    errors = [r for r in records if str(r.get("skipped", "")).startswith("error")]
    return 1 if errors and len(errors) == len(records) else 0


if __name__ == "__main__":
    sys.exit(main())
