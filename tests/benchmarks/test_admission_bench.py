"""Smoke test of the admission benchmark: a tiny run, in memory and (when it answers) in
the test Redis.

Not a timing test: it checks that every case ran without refusals or fallbacks and that
the records carry the documented names; with ``FREEAGENTICS_REQUIRE_SERVICES=1`` the
Redis cases must be there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "admission.py"
CASES = {"request-anonymous", "request-key", "websocket"}


def test_admission_benchmark_records(tmp_path):
    out = tmp_path / "admission.json"
    cmd = [sys.executable, str(SCRIPT), "--calls", "40", "--rounds", "2"]
    cmd += ["--concurrency", "1", "4", "--json", str(out)]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    records = json.loads(out.read_text())
    impls = {r["impl"] for r in records}
    if os.environ.get("FREEAGENTICS_REQUIRE_SERVICES") == "1":
        assert impls == {"memory", "redis"}
    for impl in impls:
        mine = [r for r in records if r["impl"] == impl]
        assert {(r["case"], r["n"]) for r in mine} == {(c, n) for c in CASES for n in (1, 4)}
    for r in records:
        assert r["benchmark"] == "admission" and r["errors"] == 0
        assert r["latency_us_median"] > 0 and r["checks_per_s"] > 0 and r["ratio_to_memory"] > 0
        assert "cpu_count" in r
