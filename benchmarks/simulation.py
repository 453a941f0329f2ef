"""B2 — simulation tick (BENCHMARKS.md), and the RSS soak at 1 000 agents.

Usage, from the repository root::

    python benchmarks/simulation.py                  # N = 1 000, 10 000, 100 000
    python benchmarks/simulation.py --quick          # N = 1 000 and 10 000, under a minute
    python benchmarks/simulation.py --n 100000 --json b2.json
    python benchmarks/simulation.py --soak           # 10 000 ticks at N = 1 000: RSS slope

The "default" scenario at N agents: 60 % explorers, 35 % collectors, 5 % coordinators
on a square world of side ⌈√(10 N)⌉ (about ten cells per agent) with 8 % walls, two
resources (food 3 %, water 1 %), greedy coalitions reformed every 10 ticks around
N / 100 automatic objectives at the richest cells, knowledge updates every 5 ticks,
metrics every tick, and one subscriber on the event bus (a no-op consumer with the
"latest" policy), so that a tick does everything a served simulation does.

What is timed: ``Simulation.step()`` as a whole, after warm-up ticks (which include
loading the compiled kernels); stage shares come from ``TickEvents.timings`` (the
share of the summed tick time each stage took; they leave out the untimed glue, so
they add up to a little under 100 %). ``rss_mb`` is the cell process's resident set
after the timed ticks, everything included (interpreter, numpy, numba, the world).
Each N runs in its own fresh process (``python -m benchmarks.simulation SPEC``).

Soak: N = 1 000 for ``--soak-ticks`` ticks (default 10 000), RSS sampled every 100
ticks; the slope of a least-squares line through the samples after warm-up (the
first fifth of the run, at most 1 000 ticks) is reported in MB per 1 000 ticks and
per hour at the measured tick rate. Flat means |slope| well under 1 MB per 1 000 ticks.
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks._common import (
    fmt_number,
    fmt_seconds,
    machine_info,
    print_table,
    run_worker,
    tick_stats,
    write_json,
)

FULL_N = (1_000, 10_000, 100_000)
QUICK_N = (1_000, 10_000)
SOAK_N = 1_000
MIX = {"explorer": 0.60, "collector": 0.35, "coordinator": 0.05}
#: targets to report against (not tuned for): seconds per tick, and MB at 100 000 agents
TICK_TARGET_S = {10_000: 0.020, 100_000: 0.200}
RSS_TARGET_MB = {100_000: 1000.0}


# ---------------------------------------------------------------------- worker side
def default_config(n: int, seed: int = 0):
    """The stock B2 scenario at ``n`` agents (see the module docstring)."""
    from freeagentics.simulation import CoalitionSettings, SimulationConfig
    from freeagentics.worlds import GridWorldConfig, ResourceType

    side = math.ceil(math.sqrt(n * 10))
    counts = {kind: int(n * share) for kind, share in MIX.items()}
    counts["explorer"] += n - sum(counts.values())
    world = GridWorldConfig(
        height=side,
        width=side,
        wall_density=0.08,
        resources=(ResourceType("food", density=0.03), ResourceType("water", density=0.01)),
    )
    coalitions = CoalitionSettings(auto_objectives=max(1, n // 100), reform_every=10)
    return SimulationConfig(world=world, agents=counts, seed=seed, coalitions=coalitions)


def _simulation(n: int, seed: int):
    from freeagentics.simulation import Simulation

    start = time.perf_counter()
    sim = Simulation(default_config(n, seed))
    build_s = time.perf_counter() - start
    sim.bus.subscribe(lambda events: None, maxsize=4, policy="latest")
    return sim, build_s


def measure_tick(spec: dict[str, Any]) -> dict[str, Any]:
    from benchmarks._cell import rss_bytes, time_ticks

    sim, build_s = _simulation(spec["n"], spec["seed"])
    stages: list[dict[str, float]] = []

    def tick() -> float:
        start = time.perf_counter()
        events = sim.step()
        elapsed = time.perf_counter() - start
        stages.append(events.timings)
        return elapsed

    times = time_ticks(
        tick,
        warmup=spec["warmup"],
        min_ticks=spec["min_ticks"],
        max_ticks=spec["max_ticks"],
        budget_s=spec["budget_s"],
    )
    timed = stages[-len(times) :]
    names = list(dict.fromkeys(k for t in timed for k in t))
    total = float(np.sum(times))
    median, p95 = tick_stats(times)
    rss = rss_bytes()
    sim.bus.close()
    return {
        "tick_s_median": median,
        "tick_s_p95": p95,
        "ticks": len(times),
        "build_s": build_s,
        "stages": {s: float(np.median([t.get(s, 0.0) for t in timed])) for s in names},
        "stage_share": {s: sum(t.get(s, 0.0) for t in timed) / total for s in names},
        "rss_mb": rss / 1e6,
        "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6,  # KiB
        "world_side": sim.world.shape[0],
        "knowledge_nodes": sim.knowledge.count_nodes(),
    }


def soak_warmup(ticks: int) -> int:
    return min(1_000, ticks // 5)


def measure_soak(spec: dict[str, Any]) -> dict[str, Any]:
    from benchmarks._cell import rss_bytes

    sim, _ = _simulation(spec["n"], spec["seed"])
    ticks, every = spec["ticks"], spec["sample_every"]
    samples: list[tuple[int, float]] = [(0, rss_bytes() / 1e6)]
    start = time.perf_counter()
    for t in range(1, ticks + 1):
        sim.step()
        if t % every == 0:
            samples.append((t, rss_bytes() / 1e6))
    wall = time.perf_counter() - start
    after = [(t, mb) for t, mb in samples if t >= soak_warmup(ticks)]
    x, y = np.array(after, dtype=float).T
    slope = float(np.polyfit(x, y, 1)[0]) if len(after) >= 2 else float("nan")
    ticks_per_hour = ticks / wall * 3600
    return {
        "ticks": ticks,
        "tick_s_mean": wall / ticks,
        "rss_mb": samples[-1][1],
        "rss_mb_after_warmup": after[0][1],
        "rss_slope_mb_per_1000_ticks": slope * 1000,
        "rss_slope_mb_per_hour": slope * ticks_per_hour,
        "samples": samples,
        "knowledge_nodes": sim.knowledge.count_nodes(),
        "knowledge_edges": sim.knowledge.count_edges(),
    }


def worker(spec_path: str) -> None:
    from benchmarks._cell import run_cell

    sys.argv[1:] = [spec_path]
    run_cell(lambda spec: (measure_soak if spec["mode"] == "soak" else measure_tick)(spec))


# ---------------------------------------------------------------------- parent side
def _cell(spec: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    return run_worker(
        "benchmarks.simulation",
        spec,
        timeout_s=args.timeout,
        memory_budget=int(args.memory_budget_gb * 2**30),
    )


def _verdict(value: float | None, target: float | None) -> str:
    if target is None or value is None:
        return ""
    return "yes" if value <= target else "no"


def run_grid(args: argparse.Namespace) -> list[dict[str, Any]]:
    sizes = args.n or (QUICK_N if args.quick else FULL_N)
    plan = (
        {"warmup": 3, "min_ticks": 10, "max_ticks": 40, "budget_s": 2.0}
        if args.quick
        else {"warmup": 10, "min_ticks": 50, "max_ticks": 400, "budget_s": 20.0}
    )
    if args.ticks is not None:
        plan.update(min_ticks=args.ticks, max_ticks=args.ticks)
    records, rows, stage_names = [], [], []
    info = machine_info()
    for n in sizes:
        print(f"B2: N = {n:,} ...", file=sys.stderr, flush=True)
        result = _cell({"mode": "tick", "n": n, "seed": args.seed, **plan}, args)
        record = {"benchmark": "B2", "case": "default", "impl": "freeagentics", "n": n}
        record.update(result)
        record["machine"] = info
        records.append(record)
        for s in result.get("stage_share", {}):
            if s not in stage_names:
                stage_names.append(s)
    for record in records:
        n = record["n"]
        note = record.get("skipped") or record.get("error", "")
        median, p95 = record.get("tick_s_median"), record.get("tick_s_p95")
        rss = record.get("rss_mb")
        target = TICK_TARGET_S.get(n)
        meets = [_verdict(median, target), _verdict(rss, RSS_TARGET_MB.get(n))]
        shares = record.get("stage_share", {})
        rows.append(
            [
                f"{n:,}",
                fmt_seconds(median),
                fmt_seconds(p95),
                fmt_seconds(target) if target else "-",
                "/".join(m or "-" for m in meets),
                fmt_number(rss),
                *(f"{100 * shares[s]:.1f}" if s in shares else "-" for s in stage_names),
                str(note)[:80],
            ]
        )
    columns = ["N", "tick median", "tick p95", "target", "met t/m", "RSS MB"]
    columns += [*stage_names, "note"]
    title = (
        "B2 — simulation tick; stage columns: % of tick time "
        "(targets: ≤ 20 ms at 10 000; ≤ 200 ms and ≤ 1 GB at 100 000)"
    )
    print_table(title, columns, rows)
    return records


def run_soak(args: argparse.Namespace) -> list[dict[str, Any]]:
    n = (args.n or [SOAK_N])[0]
    print(f"soak: N = {n:,}, {args.soak_ticks:,} ticks ...", file=sys.stderr, flush=True)
    spec = {"mode": "soak", "n": n, "seed": args.seed, "ticks": args.soak_ticks}
    result = _cell({**spec, "sample_every": 100}, args)
    record = {"benchmark": "B5", "case": "soak", "impl": "freeagentics", "n": n, **result}
    record["machine"] = machine_info()
    slope = result.get("rss_slope_mb_per_1000_ticks")
    note = result.get("skipped") or result.get("error", "")
    flat = "" if slope is None else ("yes" if abs(slope) < 1.0 else "no")
    row = [
        f"{n:,}",
        fmt_number(result.get("ticks")),
        fmt_seconds(result.get("tick_s_mean")),
        fmt_number(result.get("rss_mb_after_warmup")),
        fmt_number(result.get("rss_mb")),
        fmt_number(slope),
        fmt_number(result.get("rss_slope_mb_per_hour")),
        flat,
        str(note)[:80],
    ]
    columns = ["N", "ticks", "tick mean", "RSS MB after warm-up", "RSS MB end"]
    columns += ["MB / 1 000 ticks", "MB / hour", "flat", "note"]
    print_table("RSS soak (target: flat over 10 000 ticks at 1 000 agents)", columns, [row])
    return [record]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("spec", nargs="?", help=argparse.SUPPRESS)  # a cell worker's spec file
    parser.add_argument("--n", nargs="+", type=int, default=None, help="population sizes")
    parser.add_argument("--quick", action="store_true", help="N = 1 000 and 10 000, few ticks")
    parser.add_argument("--ticks", type=int, default=None, help="timed ticks per cell")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--soak", action="store_true", help="run the RSS soak instead")
    parser.add_argument("--soak-ticks", type=int, default=10_000, help="ticks of the soak")
    parser.add_argument("--json", type=Path, default=None, help="write the records here")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per cell")
    parser.add_argument("--memory-budget-gb", type=float, default=8.0, help="per cell")
    args = parser.parse_args(argv)
    if args.n is not None and any(n < 1 for n in args.n):
        parser.error("--n: population sizes must be >= 1")
    if args.soak_ticks < 10 or (args.ticks is not None and args.ticks < 1):
        parser.error("--soak-ticks must be >= 10 and --ticks >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.spec is not None:
        worker(args.spec)
        return 0
    records = run_soak(args) if args.soak else run_grid(args)
    if args.json is not None:
        write_json(args.json, records)
        print(f"wrote {args.json}", file=sys.stderr)
    return 1 if any("error" in r for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
