"""Worker-side helpers: what every benchmark cell process needs, and nothing more.

A *cell* is one measurement (one case, one implementation, one population size) run
in a fresh process. The parent writes a JSON spec file, starts the worker with the
spec's path as its only argument, and reads the JSON result the worker writes to
``spec["result_path"]``.

This module imports only the standard library, numpy and psutil: it is shared by
workers that run against a different numpy (the pymdp 1.x peer folder) and must not
pull in freeagentics or numba.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psutil

__all__ = [
    "SampledProcess",
    "load_model_npz",
    "rss_bytes",
    "run_cell",
    "settle",
    "time_ticks",
]


def rss_bytes() -> int:
    """Resident set size of this process, in bytes."""
    return psutil.Process().memory_info().rss


def _malloc_trim() -> None:
    """Hand free heap pages back to the OS (glibc), so freed warm-up memory is not
    reused silently by the agents' arrays; a no-op where unavailable."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def settle() -> int:
    """Collect garbage, trim the heap, then return the RSS: the reading for memory figures."""
    gc.collect()
    gc.collect()
    _malloc_trim()
    return rss_bytes()


def time_ticks(
    tick: Callable[[], float],
    *,
    warmup: int,
    min_ticks: int,
    max_ticks: int,
    budget_s: float,
) -> list[float]:
    """Run ``warmup`` untimed ticks, then timed ones; returns the timed durations.

    ``tick()`` does one full tick and returns the seconds spent in its timed region.
    Timed ticks stop at ``max_ticks``, or once ``min_ticks`` are done and ``budget_s``
    seconds of wall time have passed since the first timed tick.
    """
    for _ in range(warmup):
        tick()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < max_ticks:
        times.append(tick())
        if len(times) >= min_ticks and time.perf_counter() - start >= budget_s:
            break
    return times


def timed_cell(tick: Callable[[], float], spec: dict[str, Any], rss_base: int) -> dict[str, Any]:
    """Time ``tick`` as ``spec`` asks (warm-up, tick counts, budget) and read RSS after.

    Returns the fields every worker reports: ``tick_times``, ``rss_base``, ``rss_after``.
    """
    times = time_ticks(
        tick,
        warmup=spec["warmup"],
        min_ticks=spec["min_ticks"],
        max_ticks=spec["max_ticks"],
        budget_s=spec["budget_s"],
    )
    return {"tick_times": times, "rss_base": rss_base, "rss_after": settle()}


def peer_cell(
    make_ticker: Callable[[dict[str, Any], int, int], Callable[[], float]],
    spec: dict[str, Any],
    warm_ticks: int,
) -> dict[str, Any]:
    """Measure a peer on the model in ``spec``: warm up twice with one agent (the
    second round settles allocator pools), read the baseline RSS, then time N agents.

    ``make_ticker(model, n, seed)`` returns a function doing one timed tick.
    """
    model = load_model_npz(spec["model_path"])
    for _ in range(2):
        warm = make_ticker(model, 1, spec["seed"])
        for _ in range(warm_ticks):
            warm()
        del warm
    rss_base = settle()
    return timed_cell(make_ticker(model, spec["n"], spec["seed"]), spec, rss_base)


class SampledProcess:
    """True states of ``n`` agents under a single-factor model, and their observations.

    The same scheme as ``freeagentics.models.process.GenerativeProcess`` (one
    inverse-CDF draw per agent from a column of ``A`` or ``B``), rewritten on plain
    numpy so that peer workers need not import freeagentics.

    Args:
        A: per modality ``(O_m, S)``.
        B: ``(S, S, U)``.
        D: ``(S,)``.
    """

    def __init__(self, A: list[np.ndarray], B: np.ndarray, D: np.ndarray, n: int, seed: int):
        self.A, self.B = A, B
        self.rng = np.random.default_rng(seed)
        self.states = self._draw(np.broadcast_to(D[:, None], (D.size, n)))

    def _draw(self, columns: np.ndarray) -> np.ndarray:
        """One index per column of ``columns`` ``(K, N)`` → ``(N,)`` int64."""
        cdf = np.cumsum(columns.T, axis=1)
        u = self.rng.random(cdf.shape[0]) * cdf[:, -1]
        return np.minimum((cdf < u[:, None]).sum(1), cdf.shape[1] - 1).astype(np.int64)

    def observe(self) -> np.ndarray:
        """One outcome per agent and modality: ``(N, M)`` int64."""
        return np.stack([self._draw(a[:, self.states]) for a in self.A], axis=1)

    def advance(self, actions: np.ndarray) -> None:
        """Move every agent's true state by its action (``(N,)`` or ``(N, 1)`` ints)."""
        actions = np.asarray(actions).reshape(-1)
        self.states = self._draw(self.B[:, self.states, actions])


def load_model_npz(path: str | Path) -> dict[str, Any]:
    """Read the model file the parent wrote: lists ``A``, ``C``; arrays ``B``, ``D``;
    and the scalars ``policy_len``, ``gamma``, ``alpha``, ``num_iter``, ``learn_A``."""
    with np.load(path) as data:
        num_modalities = int(data["num_modalities"])
        return {
            "A": [np.array(data[f"A{m}"]) for m in range(num_modalities)],
            "C": [np.array(data[f"C{m}"]) for m in range(num_modalities)],
            "B": np.array(data["B"]),
            "D": np.array(data["D"]),
            "policy_len": int(data["policy_len"]),
            "gamma": float(data["gamma"]),
            "alpha": float(data["alpha"]),
            "num_iter": int(data["num_iter"]),
            "learn_A": bool(data["learn_A"]),
        }


def run_cell(measure: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Entry point of a worker: read the spec named by ``argv[1]``, measure, write the result.

    ``measure(spec)`` returns a dict of figures; exceptions are written as
    ``{"error": ...}`` (``MemoryError`` as ``{"skipped": ...}``) so the parent can
    record them. The process exits 0 whenever a result file was written.
    """
    spec = json.loads(Path(sys.argv[1]).read_text())
    try:
        result = measure(spec)
    except MemoryError as exc:
        result = {"skipped": f"out of memory in the worker: {exc}"}
    except Exception as exc:  # the parent records it; the run goes on
        text = f"{type(exc).__name__}: {exc}"
        if "RESOURCE_EXHAUSTED" in text or "Out of memory" in text:
            result = {"skipped": f"out of memory in the worker: {text[:300]}"}
        else:
            result = {"error": text[:2000], "traceback": traceback.format_exc()[-4000:]}
    result.setdefault("numpy_version", np.__version__)
    result.setdefault("pid", os.getpid())
    Path(spec["result_path"]).write_text(json.dumps(result))
