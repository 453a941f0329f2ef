"""Parent-side helpers shared by the benchmarks: workers, records, tables, machine info.

* :func:`run_worker` runs one measurement cell in a fresh interpreter (from the
  repository root, with ``benchmarks`` importable) under a wall-clock timeout and a
  memory budget: :func:`freeagentics.loadtest.measure.run_worker`, which the load test
  shares.
* :func:`machine_info` describes the machine; every JSON record carries it.
* :func:`write_json`, :func:`print_table` and the ``fmt_*`` helpers produce the outputs
  described in BENCHMARKS.md ("Machine-readable output").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from freeagentics.loadtest import measure
from freeagentics.loadtest.measure import machine_info, write_json

__all__ = [
    "REPO_ROOT",
    "fmt_bytes",
    "fmt_number",
    "fmt_ratio",
    "fmt_seconds",
    "machine_info",
    "print_table",
    "run_worker",
    "tick_stats",
    "write_json",
]

REPO_ROOT = Path(__file__).resolve().parent.parent


def tick_stats(times: Sequence[float]) -> tuple[float, float]:
    """Median and 95th percentile of tick durations, in seconds."""
    arr = np.asarray(times, dtype=float)
    return float(np.median(arr)), float(np.percentile(arr, 95))


def run_worker(
    module: str,
    spec: dict[str, Any],
    *,
    timeout_s: float,
    memory_budget: int,
    pythonpath: Sequence[str | Path] = (),
) -> dict[str, Any]:
    """:func:`freeagentics.loadtest.measure.run_worker` from the repository root, with
    ``benchmarks`` importable after the folders of ``pythonpath``."""
    return measure.run_worker(
        module,
        spec,
        timeout_s=timeout_s,
        memory_budget=memory_budget,
        pythonpath=[*pythonpath, REPO_ROOT],
        cwd=REPO_ROOT,
    )


# ---------------------------------------------------------------------- formatting
def fmt_seconds(value: float | None) -> str:
    """Seconds with a unit that keeps three significant digits: µs, ms or s."""
    if value is None or not math.isfinite(value):
        return "-"
    if value < 1e-3:
        return f"{value * 1e6:.3g} µs"
    if value < 1.0:
        return f"{value * 1e3:.3g} ms"
    return f"{value:.3g} s"


def fmt_number(value: float | None, digits: int = 3) -> str:
    """A rate or count with thousands separators above 1 000."""
    if value is None or not math.isfinite(value):
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def fmt_bytes(value: float | None) -> str:
    """Bytes as B, KB or MB (powers of 1 000, as in BENCHMARKS.md)."""
    if value is None or not math.isfinite(value):
        return "-"
    for unit, scale in (("MB", 1e6), ("KB", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.0f} B"


def fmt_ratio(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.3g}×"


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a table with rich: the first column (a name) left-aligned and unwrapped, the
    last (a note) left-aligned, the others (numbers) right-aligned."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    last = len(columns) - 1
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i in (0, last) else "right", no_wrap=i < last)
    for row in rows:
        table.add_row(*row)
    Console(width=160).print(table)
