"""Smoke test of the B1 engine benchmark: a tiny ``--quick`` run and its JSON records.

Not a timing test: it checks that every cell ran (or says why not) and that the figures
are present, positive and finite, with the names BENCHMARKS.md fixes.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "engine.py"
REQUIRED = (
    "benchmark",
    "case",
    "impl",
    "n",
    "agent_steps_per_s",
    "tick_s_median",
    "tick_s_p95",
    "efficiency",
    "bytes_per_agent",
    "rss_mb",
    "cpu_count",
    "numba_threading_layer",
    "numpy_version",
)
POSITIVE = ("agent_steps_per_s", "tick_s_median", "tick_s_p95", "efficiency", "rss_mb")


def _positive_finite(value) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("b1") / "b1.json"
    cmd = [
        sys.executable,
        str(SCRIPT),
        "--quick",
        "--cases",
        "explorer-10",
        "--n",
        "1",
        "20",
        "--cell-seconds",
        "0.05",
        "--timeout",
        "120",
        "--json",
        str(out),
    ]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "B1 explorer-10" in done.stdout  # the table was printed
    return json.loads(out.read_text())


def test_records_have_the_required_fields(records: list[dict]) -> None:
    assert records
    for r in records:
        missing = [k for k in REQUIRED if k not in r]
        assert not missing, (missing, r)
        assert r["benchmark"] == "B1"
        assert r["case"] == "explorer-10"
        assert r["n"] in (1, 20)
        assert r["cpu_count"] >= 1


def test_freeagentics_cells_are_measured_and_plausible(records: list[dict]) -> None:
    ours = {r["n"]: r for r in records if r["impl"] == "freeagentics"}
    assert sorted(ours) == [1, 20]
    for n, r in ours.items():
        assert "skipped" not in r, r
        for key in POSITIVE:
            assert _positive_finite(r[key]), (key, r)
        assert math.isfinite(r["bytes_per_agent"])
        assert r["tick_s_p95"] >= r["tick_s_median"]
        assert r["agent_steps_per_s"] == pytest.approx(n / r["tick_s_median"])
        assert r["tick_s_median"] < 1.0  # a tick of 20 explorer agents is far below a second
    assert ours[1]["efficiency"] == pytest.approx(1.0)
    assert ours[1]["target_tick_s"] == pytest.approx(50e-6)


def test_peer_cells_are_measured_or_say_why_not(records: list[dict]) -> None:
    peers = [r for r in records if r["impl"] != "freeagentics"]
    assert {r["impl"].rsplit("-", 1)[0] for r in peers} == {"inferactively-pymdp"}
    for r in peers:
        if r.get("skipped"):
            assert isinstance(r["skipped"], str) and r["skipped"]
            assert not str(r["skipped"]).startswith("error"), r
            continue
        for key in POSITIVE:
            assert _positive_finite(r[key]), (key, r)
        assert _positive_finite(r["freeagentics_ratio"])
