"""Smoke test of the B3 database benchmark: a tiny SQLite run and its JSON records.

Not a timing test (about 4 s): it checks that every query class ran without errors and that the
records carry the names BENCHMARKS.md fixes.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "database.py"
CASES = {"simple-select", "complex-join", "bulk-insert", "knowledge-graph", "concurrency"}
REQUIRED = (
    "benchmark",
    "case",
    "impl",
    "n",
    "latency_ms_avg",
    "latency_ms_p95",
    "latency_ms_max",
    "errors",
    "load_s",
    "cpu_count",
)


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("b3") / "b3.json"
    cmd = [
        sys.executable,
        str(SCRIPT),
        "--quick",
        "--scale",
        "0.001",
        "--ops",
        "100",
        "--backends",
        "sqlite",
        "--json",
        str(out),
    ]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "B3 database" in done.stdout  # the table was printed
    return json.loads(out.read_text())


def test_every_case_has_a_record_with_the_required_fields(records: list[dict]) -> None:
    assert {r["case"] for r in records} == CASES
    for r in records:
        missing = [k for k in REQUIRED if k not in r]
        assert not missing, (missing, r)
        assert r["benchmark"] == "B3"
        assert r["impl"] == "freeagentics-sqlite"


def test_latencies_are_measured_and_nothing_failed(records: list[dict]) -> None:
    for r in records:
        avg, p95, mx = r["latency_ms_avg"], r["latency_ms_p95"], r["latency_ms_max"]
        assert all(math.isfinite(v) and v > 0 for v in (avg, p95, mx)), r
        assert avg <= mx and p95 <= mx
        assert r["errors"] == 0
    by_case = {r["case"]: r for r in records}
    assert by_case["bulk-insert"]["n"] == 1000
    assert by_case["concurrency"]["n"] == 100
