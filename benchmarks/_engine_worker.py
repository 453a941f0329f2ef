"""B1 cell worker for freeagentics: one case, one population size, one fresh process.

Run by ``benchmarks/engine.py`` as ``python -m benchmarks._engine_worker SPEC.json``.

Memory: after importing, building the model and warming up (a cohort of one agent
stepped a few times, twice over: the first loads or compiles the serial kernels, the
second lets the allocator's pools settle, which adds ~10 MB once on deep-10; for populations at or
above the parallel-kernel threshold, also one step of a cohort of that size, which
compiles the parallel ones), the warm-up cohorts are deleted and the RSS is read: the
baseline "0 agents". The RSS after the timed ticks of the N-agent cohort is
"N agents". The generative process that feeds observations (one int64 state per
agent) is counted with the agents.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from benchmarks._cell import run_cell, settle, timed_cell
from benchmarks._engine_cases import Case
from freeagentics.agents import Cohort
from freeagentics.models.process import GenerativeProcess


def _parallel_threshold() -> int | None:
    """Population size from which freeagentics switches to its parallel kernels."""
    try:
        from freeagentics.inference._kernels import PARALLEL_THRESHOLD
    except ImportError:  # private detail: without it, skip the extra warm-up
        return None
    return int(PARALLEL_THRESHOLD)


def _threading_layer() -> str:
    import numba

    try:
        return str(numba.threading_layer())
    except ValueError:
        return "not initialised (serial kernels only)"


def _warm_up(case: Case, model, n_agents: int, steps: int, seed: int, fast_path: bool) -> None:
    rng = np.random.default_rng(seed)
    cohort = Cohort(model, n_agents, case.config(fast_path), rng)
    process = GenerativeProcess(model, n_agents, rng)
    for _ in range(steps):
        process.advance(cohort.step(process.observe()))


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    case = Case(spec["kind"], spec["size"])
    n, seed = spec["n"], spec["seed"]
    fast_path = spec.get("fast_path", True)
    model = case.model()
    for _ in range(2):  # the second round settles allocator pools
        _warm_up(case, model, 1, 3, seed, fast_path)
    threshold = _parallel_threshold()
    if threshold is not None and n >= threshold:
        _warm_up(case, model, threshold, 1, seed, fast_path)
    rss_base = settle()

    rng = np.random.default_rng(seed)
    cohort = Cohort(model, n, case.config(fast_path), rng)
    process = GenerativeProcess(model, n, rng)

    cpu_times: list[float] = []

    def tick() -> float:
        obs = process.observe()
        start, cpu = time.perf_counter(), time.process_time()
        actions = cohort.step(obs)
        elapsed = time.perf_counter() - start
        cpu_times.append(time.process_time() - cpu)
        process.advance(actions)
        return elapsed

    result = timed_cell(tick, spec, rss_base)
    return {
        **result,
        # CPU seconds of the timed ticks (all threads): the work, whatever share of the
        # machine the process got
        "cpu_tick_times": cpu_times[spec["warmup"] :],
        "dtype": case.config().dtype,
        "engine": cohort.engine_name,
        "numba_threading_layer": _threading_layer(),
    }


if __name__ == "__main__":
    run_cell(measure)
