"""Where a B1 tick's time goes: each stage, serial and parallel, against memory bandwidth.

Usage, from the repository root::

    python benchmarks/engine_profile.py                         # explorer, learner, deep at 10
    python benchmarks/engine_profile.py --cases explorer-10 --n 1000 100000 --json p.json

Per case and population size, in one process: a cohort warmed up by a few steps, then
each stage timed on its own — state inference (``posterior``), the Dirichlet update
(``learn``, learning cases), policy evaluation (``policies``), action selection
(``actions``) — and the whole ``Cohort.step`` (one pass where the engine fuses it),
with every kernel forced to its serial variant, then to its parallel one. Figures are
nanoseconds per agent-step, the median and the minimum of repeated calls (the minimum
is what the code costs when nothing else runs; the median what it got).

Beside them: the bytes of per-agent state a step reads or writes (each array of the
cohort and its engine with one row per agent, counted once; the beliefs twice, old and
new), and this machine's memory bandwidth measured now — a sum over 400 MB (read) by
one thread and by all, and a copy by numpy — so a stage's time can be set against the
time its memory traffic needs. The load average is recorded with every figure.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numba
import numpy as np

from benchmarks._common import fmt_bytes, fmt_number, machine_info, print_table, write_json
from benchmarks._engine_cases import Case, parse_case
from freeagentics.agents import Cohort
from freeagentics.inference._kernels import _registered
from freeagentics.models.process import GenerativeProcess

STAGES = ("posterior", "learn", "policies", "actions", "step")
VARIANTS = ("serial", "parallel")


class _Forced:
    """A kernel set that always hands out one variant (0 serial, 1 parallel); measured
    choices between whole pipelines are forced the same way."""

    def __init__(self, variant: int):
        self.variant = variant
        self._table = _registered(_all_kernel_names())

    def __call__(self, name: str, n_agents: int):
        return self._table[name][self.variant]

    def serial(self, name: str):
        return self._table[name][0]

    def choice(self, name: str, serial, parallel):
        return (serial, parallel)[self.variant]


def _all_kernel_names() -> list[str]:
    from freeagentics.inference import _kernels

    return sorted({name for table in _kernels._TABLES for name in table})


def _time(call, reps: int, n: int) -> tuple[float, float]:
    """Median and minimum nanoseconds per agent of ``call()``; a call may return the
    seconds of its own timed part (else the whole call is timed)."""
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        inner = call()
        elapsed = time.perf_counter() - start
        times.append(inner if isinstance(inner, float) else elapsed)
    return float(np.median(times)) / n * 1e9, float(np.min(times)) / n * 1e9


def _state_bytes(cohort: Cohort) -> float:
    """Bytes per agent of the arrays with one row per agent that a step touches."""
    arrays = [*cohort.qs, *cohort.qs, cohort.G, cohort.q_pi, cohort.free_energy, cohort.actions]
    arrays += list(cohort.pA or [])
    arrays += [a for a in getattr(cohort.engine, "_kept", []) if a.ndim > 1]
    return sum(a.nbytes for a in arrays) / max(cohort.n, 1)


def profile_cell(case: Case, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """One record per kernel variant: ns per agent-step of every stage."""
    return [_profile_variant(case, n, variant, seed) for variant in range(len(VARIANTS))]


def _profile_variant(case: Case, n: int, variant: int, seed: int) -> dict[str, Any]:
    model = case.model()
    rng = np.random.default_rng(seed)
    cohort = Cohort(model, n, case.config(), rng)
    cohort.engine._kernels = _Forced(variant)
    world = GenerativeProcess(model, n, rng)
    for _ in range(6):
        world.advance(cohort.step(world.observe()))
    reps = max(3, min(40, int(2e6 / n)))
    obs = cohort._check_obs(world.observe())
    previous = cohort.actions
    engine = cohort.engine

    def step() -> float:  # the world's draws and moves are not timed
        observed = world.observe()
        start = time.perf_counter()
        cohort.step(observed)
        elapsed = time.perf_counter() - start
        world.advance(cohort.actions)
        return elapsed

    calls = {
        "posterior": lambda: engine.posterior(cohort, obs),
        "learn": (lambda: engine.learn(cohort, obs, previous)) if case.learn_A else None,
        "policies": lambda: engine.policies(cohort),
        "actions": lambda: engine.actions(cohort, 0),
        "step": step,
    }
    record: dict[str, Any] = {
        "benchmark": "B1-profile",
        "case": case.name,
        "impl": "freeagentics",
        "n": n,
        "variant": VARIANTS[variant],
        "threads": numba.get_num_threads() if variant else 1,
        "state_bytes_per_agent": _state_bytes(cohort),
        "load_average_1min": os.getloadavg()[0],
    }
    for stage in STAGES:
        call = calls[stage]
        median, least = _time(call, reps, n) if call is not None else (None, None)
        record[f"{stage}_ns_median"], record[f"{stage}_ns_min"] = median, least
    return record


@numba.njit(parallel=True, fastmath=True, cache=True)
def _parallel_sum(x):  # pragma: no cover - compiled
    total = np.float32(0.0)
    for i in numba.prange(x.size):
        total += x[i]
    return total


@numba.njit(fastmath=True, cache=True)
def _serial_sum(x):  # pragma: no cover - compiled
    total = np.float32(0.0)
    for i in range(x.size):
        total += x[i]
    return total


def bandwidth() -> dict[str, float]:
    """GB/s: read by one thread and by all (numba sums), read + write by numpy's copy."""
    a = np.ones(100_000_000, np.float32)
    b = np.empty_like(a)
    out = {}
    for label, call, moved in (
        ("read_1_thread_gb_s", lambda: [_serial_sum(a)], a.nbytes),
        ("read_all_threads_gb_s", lambda: [_parallel_sum(a)], a.nbytes),
        ("copy_gb_s", lambda: np.copyto(b, a), 2 * a.nbytes),
    ):
        call()
        best = _time(call, 5, 1)[1] / 1e9
        out[label] = moved / best / 1e9
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="+", default=["explorer-10", "learner-10", "deep-10"])
    parser.add_argument("--n", nargs="+", type=int, default=[1_000, 100_000])
    parser.add_argument("--json", type=Path, help="write the records here")
    args = parser.parse_args(argv)
    cases = [c for text in args.cases for c in parse_case(text, [10])]
    records = []
    for case in cases:
        for n in args.n:
            records += profile_cell(case, n)
    memory = {**bandwidth(), "load_average_1min": os.getloadavg()[0]}
    rows = [
        [
            f"{r['case']} N={r['n']:,} {r['variant']}",
            *(
                "-"
                if r[f"{s}_ns_median"] is None
                else f"{r[f'{s}_ns_median']:.0f} / {r[f'{s}_ns_min']:.0f}"
                for s in STAGES
            ),
            fmt_bytes(r["state_bytes_per_agent"]),
            f"{r['load_average_1min']:.1f}",
        ]
        for r in records
    ]
    print_table(
        "ns per agent-step, median / min",
        ["cell", *STAGES, "state/agent", "load"],
        rows,
    )
    print("memory bandwidth now: " + ", ".join(f"{k} {fmt_number(v)}" for k, v in memory.items()))
    if args.json:
        machine = machine_info()
        bench = {"benchmark": "B1-profile", "case": "memory", "impl": "machine", **memory}
        write_json(args.json, [{**r, **machine} for r in [*records, bench]])
        print(f"wrote {len(records) + 1} records to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
