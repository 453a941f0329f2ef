"""Smoke test of the B4 WebSocket benchmark: a tiny run against the real server.

Not a timing test: it checks that every case ran without errors, that frames arrived
and pings came back, and that the records carry the names BENCHMARKS.md fixes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "websocket.py"
REQUIRED = ("benchmark", "case", "impl", "n", "errors", "cpu_count")
FIGURES = {
    "broadcast": ("messages_per_s", "bytes_per_connection"),
    "round-trip": ("latency_ms_avg", "latency_ms_p99"),
    "slow-client": ("messages_per_s", "latency_ms_p99"),
}

pytestmark = pytest.mark.slow  # about 15 s: a server start and two client rounds


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("b4") / "b4.json"
    cmd = [
        sys.executable,
        str(SCRIPT),
        "--quick",
        "--connections",
        "20",
        "--slow-n",
        "20",
        "--duration",
        "2",
        "--json",
        str(out),
    ]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "B4 websocket" in done.stdout
    return json.loads(out.read_text())


def test_every_case_has_a_record_with_the_required_fields(records: list[dict]) -> None:
    assert {r["case"] for r in records} == set(FIGURES)
    for r in records:
        missing = [k for k in (*REQUIRED, *FIGURES[r["case"]]) if k not in r]
        assert not missing, (missing, r)
        assert r["benchmark"] == "B4" and r["impl"] == "freeagentics" and r["n"] == 20
        assert r["errors"] == 0


def test_frames_were_delivered_and_pings_answered(records: list[dict]) -> None:
    by_case = {r["case"]: r for r in records}
    assert by_case["broadcast"]["messages_per_s"] > 20 * 5  # most of 10 Hz per connection
    assert by_case["round-trip"]["latency_ms_p99"] > 0
    assert by_case["slow-client"]["messages_per_s"] > 20 * 5
