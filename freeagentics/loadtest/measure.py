"""Measurement plumbing shared by the load test and ``benchmarks/``.

* :func:`run_worker` runs one measurement (a cell, a group of simulated users) in a fresh
  interpreter with a wall-clock timeout and a memory budget (``RLIMIT_DATA`` in the
  child, plus a watchdog on its RSS and on the machine's available memory), so that no
  worker can make the machine swap.
* :func:`machine_info` describes the machine; every JSON record carries it.
* :func:`write_json` writes records as BENCHMARKS.md describes ("Machine-readable output").

It lives in the package (not in ``benchmarks/``) so that an installed ``freeagentics``
runs its load test without the source checkout.
"""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import psutil

import freeagentics

__all__ = ["MEMORY_RESERVE", "machine_info", "run_worker", "write_json"]

#: the folder that holds the running ``freeagentics`` package: workers import the same code
PACKAGE_PARENT = Path(freeagentics.__file__).resolve().parent.parent

#: the watchdog kills a worker when the machine has less than this much memory left
MEMORY_RESERVE = 1 << 30


def _numba_threading_layer() -> str:
    """The threading layer numba's parallel kernels use on this machine."""
    try:
        import numba
        from numba.np.ufunc import parallel
    except ImportError:
        return "numba not installed"
    try:
        parallel._launch_threads()  # what the first parallel kernel call would do
        return str(numba.threading_layer())
    except Exception as exc:  # private API: report rather than fail
        return f"unknown ({type(exc).__name__})"


def machine_info() -> dict[str, Any]:
    """CPU count, memory, library versions and numba's threading layer."""
    return {
        "cpu_count": os.cpu_count(),
        "cpu_count_physical": psutil.cpu_count(logical=False),
        "memory_total_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "numba_threading_layer": _numba_threading_layer(),
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
    }


def _limit_data(budget: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (budget, budget))

    return apply


def _tail(path: Path, chars: int = 1500) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def run_worker(
    module: str,
    spec: dict[str, Any],
    *,
    timeout_s: float,
    memory_budget: int,
    pythonpath: Sequence[str | Path] = (),
    cwd: str | Path | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """Run ``python -m module SPEC`` in ``cwd`` (default: this one); return its result dict.

    The result is what the worker wrote to ``spec["result_path"]`` (filled in here), or
    ``{"skipped": reason}`` when the worker ran out of time or memory or was killed
    because ``cancel`` was set, or ``{"error": message}`` when it failed otherwise.

    The worker's stdin is a pipe that nothing is written to and that ends when the worker
    is done with or this process dies: a worker that must not outlive its parent watches
    it (:mod:`freeagentics.lifeline`).

    Args:
        pythonpath: folders put in front of ``PYTHONPATH`` (the folder holding this
            ``freeagentics`` follows, so the worker imports the same package).
        memory_budget: bytes; the child's data limit and the RSS at which it is killed.
    """
    with tempfile.TemporaryDirectory(prefix="fa-bench-") as tmp:
        tmpdir = Path(tmp)
        spec = {**spec, "result_path": str(tmpdir / "result.json")}
        spec_path = tmpdir / "spec.json"
        spec_path.write_text(json.dumps(spec))
        env = dict(os.environ)
        paths = [str(p) for p in pythonpath] + [str(PACKAGE_PARENT)]
        if env.get("PYTHONPATH"):
            paths.append(env["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(paths)
        out_path, err_path = tmpdir / "stdout.txt", tmpdir / "stderr.txt"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", module, str(spec_path)],
                cwd=cwd,
                env=env,
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=err,
                preexec_fn=_limit_data(memory_budget),
            )
            try:
                reason = _watch(proc, timeout_s, memory_budget, cancel)
            finally:
                assert proc.stdin is not None
                proc.stdin.close()
        result_path = Path(spec["result_path"])
        if reason is not None:
            return {"skipped": reason}
        if result_path.exists():
            return json.loads(result_path.read_text())
        if proc.returncode < 0:
            return {"skipped": f"worker killed by signal {-proc.returncode} (out of memory?)"}
        return {"error": f"worker exited with {proc.returncode}: {_tail(err_path)}"}


def _watch(
    proc: subprocess.Popen, timeout_s: float, memory_budget: int, cancel: threading.Event | None
) -> str | None:
    """Wait for ``proc``; kill it and say why when it runs too long or too large, or when
    ``cancel`` is set."""
    start = time.monotonic()
    handle = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        reason = None
        try:
            peak = max(peak, handle.memory_info().rss)
        except psutil.Error:
            pass
        if cancel is not None and cancel.is_set():
            reason = "cancelled"
        elif time.monotonic() - start > timeout_s:
            reason = f"timed out after {timeout_s:.0f} s"
        elif peak > memory_budget:
            budget = memory_budget / 2**30
            reason = f"RSS {peak / 2**30:.1f} GiB over the budget of {budget:.1f} GiB"
        elif psutil.virtual_memory().available < MEMORY_RESERVE:
            reason = f"machine memory nearly exhausted (worker RSS {peak / 2**30:.1f} GiB)"
        if reason is not None:
            proc.kill()
            proc.wait()
            return reason
        time.sleep(0.05)
    return None


def write_json(path: str | Path, records: list[dict[str, Any]]) -> None:
    """Write ``records`` as a JSON list (NaN and infinity become null)."""

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    Path(path).write_text(json.dumps([clean(r) for r in records], indent=2) + "\n")
