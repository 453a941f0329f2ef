"""Smoke runs of benchmarks/simulation.py (B2 and the soak) at tiny sizes, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def bench(*args, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "benchmarks/simulation.py", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_b2_records_and_table(tmp_path):
    out = tmp_path / "b2.json"
    run = bench("--n", 150, "--ticks", 3, "--json", out)
    assert run.returncode == 0, run.stderr
    records = json.loads(out.read_text())
    assert [r["n"] for r in records] == [150]
    for r in records:
        assert (r["benchmark"], r["case"], r["impl"]) == ("B2", "default", "freeagentics")
        assert r["ticks"] == 3
        assert 0 < r["tick_s_median"] <= r["tick_s_p95"]
        assert r["rss_mb"] > 10
        assert {"observe", "inference", "world", "coalitions", "knowledge"} <= set(r["stages"])
        assert 0.5 < sum(r["stage_share"].values()) <= 1.0 + 1e-9
        assert "cpu_count" in r["machine"]
    assert "B2 — simulation tick" in run.stdout and "inference" in run.stdout


def test_bad_arguments_are_refused():
    run = bench("--n", 0)
    assert run.returncode == 2 and "population sizes must be >= 1" in run.stderr


@pytest.mark.slow
def test_soak_reports_an_rss_slope(tmp_path):
    out = tmp_path / "soak.json"
    run = bench("--soak", "--n", 100, "--soak-ticks", 500, "--json", out)
    assert run.returncode == 0, run.stderr
    (record,) = json.loads(out.read_text())
    assert (record["benchmark"], record["case"], record["n"]) == ("B5", "soak", 100)
    assert record["ticks"] == 500
    assert [t for t, _ in record["samples"]] == list(range(0, 501, 100))
    assert isinstance(record["rss_slope_mb_per_1000_ticks"], float)
    assert "RSS soak" in run.stdout
