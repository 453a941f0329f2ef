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
IMPLS = ("freeagentics", "bare-uvloop-ceiling")
CEILING_CASES = {"broadcast", "round-trip"}
FIGURES = {
    "broadcast": ("messages_per_s", "bytes_per_connection", "cpu_percent", "cpu_us_per_message"),
    "round-trip": ("latency_ms_avg", "latency_ms_p99"),
    "slow-client": ("messages_per_s", "latency_ms_p99"),
}

pytestmark = pytest.mark.slow  # about 20 s: two server starts and three client rounds


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
        "--ceiling",
        "--json",
        str(out),
    ]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "B4 websocket" in done.stdout
    return json.loads(out.read_text())


def test_every_case_has_a_record_with_the_required_fields(records: list[dict]) -> None:
    cases = {impl: {r["case"] for r in records if r["impl"] == impl} for impl in IMPLS}
    assert cases == {"freeagentics": set(FIGURES), "bare-uvloop-ceiling": CEILING_CASES}
    for r in records:
        missing = [k for k in (*REQUIRED, *FIGURES[r["case"]]) if k not in r]
        assert not missing, (missing, r)
        assert r["benchmark"] == "B4" and r["n"] == 20
        assert r["errors"] == 0


def test_frames_were_delivered_and_pings_answered(records: list[dict]) -> None:
    ours = {r["case"]: r for r in records if r["impl"] == "freeagentics"}
    ceiling = {r["case"]: r for r in records if r["impl"] == "bare-uvloop-ceiling"}
    for by_case in (ours, ceiling):
        assert by_case["broadcast"]["messages_per_s"] > 20 * 5  # most of 10 Hz per connection
        assert by_case["broadcast"]["connected"] == 20
        assert by_case["round-trip"]["latency_ms_p99"] > 0
    assert ours["slow-client"]["messages_per_s"] > 20 * 5
    # the ceiling broadcasts frames of the size the server sent, right after it
    assert ceiling["broadcast"]["frame_bytes"] == pytest.approx(
        ours["broadcast"]["frame_bytes"], abs=1
    )
    share = ours["broadcast"]["messages_per_s"] / ceiling["broadcast"]["messages_per_s"]
    assert ours["broadcast"]["share_of_ceiling"] == pytest.approx(share)
    for by_case in (ours, ceiling):  # the servers did work while the frames were counted
        assert by_case["broadcast"]["cpu_us_per_message"] > 0
        assert by_case["broadcast"]["clients_cpu_percent"] > 0
