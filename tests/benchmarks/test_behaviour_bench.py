"""Smoke run of benchmarks/behaviour.py (B7) on tiny worlds: the --json contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIGURES = (
    "alive_fraction",
    "moving_fraction_last",
    "resources_per_agent_100",
    "coverage_per_explorer",
    "objective_ticks",
)


def bench(*args, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "benchmarks/behaviour.py", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_b7_quick_records_ratios_and_targets(tmp_path):
    out = tmp_path / "b7.json"
    run = bench("--quick", "--ticks", 30, "--json", out)
    assert run.returncode == 0, run.stderr
    records = json.loads(out.read_text())
    runs = [r for r in records if r["seed"] is not None]
    medians = [r for r in records if r["seed"] is None]
    cells = {(r["case"], r["impl"]) for r in runs}
    assert cells == {
        (c, i)
        for c in ("demo", "foraging", "maze")
        for i in ("freeagentics-aif", "random", "greedy")
    }
    assert len(runs) == 9 * 2  # two seeds each in --quick
    for r in records:
        assert r["benchmark"] == "B7" and r["n"] > 0 and "cpu_count" in r["machine"]
        assert set(FIGURES) <= set(r)
        assert 0 <= r["alive_fraction"] <= 1 and 0 <= r["moving_fraction_last"] <= 1
        assert r["resources_per_agent_100"] >= 0 and r["coverage_per_explorer"] >= 1
        assert r["resources_per_collector_100"] >= 0
    assert {(r["case"], r["impl"]) for r in medians} == cells
    for r in medians:
        if r["impl"] == "freeagentics-aif":
            assert set(r["ratio_random"]) == set(r["ratio_greedy"]) == set(FIGURES)
    random_demo = next(r for r in runs if (r["case"], r["impl"]) == ("demo", "random"))
    assert random_demo["moving_fraction_last"] > 0.3  # random walkers do move
    assert "AIF ÷ random" in run.stdout and "targets" in run.stdout


def test_unknown_scenario_is_refused():
    run = bench("--scenarios", "volcano")
    assert run.returncode == 2 and "volcano" in run.stderr
