"""Smoke test of the startup benchmark: one start of this tree's ``serve`` with its demo.

Not a timing test: it checks that the server became ready with its demo ticking, that
every process of its tree was measured, and that the records carry their names.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "startup.py"

pytestmark = pytest.mark.slow  # a server start and a few seconds of its demo


def test_startup_benchmark_records(tmp_path):
    out = tmp_path / "startup.json"
    cmd = [sys.executable, str(SCRIPT), "--rounds", "1", "--settle", "2", "--no-warmup"]
    done = subprocess.run(
        [*cmd, "--json", str(out)], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run, median = json.loads(out.read_text())
    assert run["case"] == "serve-demo" and median["case"] == "median"
    assert run["benchmark"] == "startup" and run["rev"] == "this" and "cpu_count" in run
    assert 0 < run["ready_s"] <= run["ticking_s"] and run["ticks"] > 0
    roles = {p["role"]: p for p in run["processes"]}
    assert set(roles) == {"api", "host"}  # the embedded default: an API process and a host
    for process in roles.values():
        assert process["rss_bytes"] >= process["uss_bytes"] > 0 and process["pss_bytes"] > 0
    assert run["rss_bytes"] == sum(p["rss_bytes"] for p in run["processes"])
    if run["unique_bytes"] is not None:  # page frame numbers readable (privileged)
        assert run["uss_bytes"] <= run["unique_bytes"] <= run["rss_bytes"]
    assert median["rss_bytes"] == run["rss_bytes"] and median["rounds"] == 1
