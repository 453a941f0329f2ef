"""The framework measuring something real: a tiny profile against the real server.

One run with ``FREEAGENTICS_DEBUG_DELAY_MS=50`` (every HTTP response delayed 50 ms by
``freeagentics.server.debug``) feeds several checks: the report has every section, its
raw files exist, its figures equal the raw JSON's, and the delay shows in REST p50.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from freeagentics.loadtest.histogram import LatencyRecord
from freeagentics.loadtest.profiles import custom_profile
from freeagentics.loadtest.report import figures, load_raw, ms
from freeagentics.loadtest.runner import RunOptions, run_loadtest

DELAY_MS = 50
SECTIONS = (
    "## 1. Multi-agent scaling efficiency",
    "## 2. Database performance",
    "## 3. WebSocket performance",
    "## 4. Memory usage",
    "## 5. Performance profiles by load scenario",
    "## 6. Prioritized bottlenecks by impact",
    "## 7. Monitoring thresholds, evaluated over the run",
    "## 8. Machine",
)


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("loadtest")
    profile = custom_profile(
        5, 4, name="tiny", duration_s=4, warmup_s=1, think_s=0.2, ping_interval_s=0.3
    )
    options = RunOptions(
        out,
        skip_engine=True,
        skip_database=True,
        server_env={"FREEAGENTICS_DEBUG_DELAY_MS": str(DELAY_MS)},
    )
    path, interrupted = run_loadtest([profile], options)
    assert not interrupted
    return out, path.read_text()


def _row(markdown: str, section: str, first_cell: str) -> list[str]:
    body = markdown.split(section, 1)[1].split("\n## ", 1)[0]
    header = next(line for line in body.splitlines() if line.startswith("| "))
    names = [c.strip() for c in header.strip("|").split("|")]
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and cells[0] == first_cell:
            return dict(zip(names, cells, strict=True))
    raise AssertionError(f"no row {first_cell!r} in {section}")


def test_report_has_every_section_and_raw_files(tiny_report):
    out, markdown = tiny_report
    for section in SECTIONS:
        assert section in markdown
    assert (out / "raw" / "profile-tiny.json").exists()
    assert (out / "raw" / "latencies-tiny.json").exists()
    assert (out / "latency_percentiles.png").stat().st_size > 1000
    assert (out / "memory_over_time.png").stat().st_size > 1000
    (record,) = json.loads((out / "raw" / "profile-tiny.json").read_text())
    assert record["benchmark"] == "B6" and record["n"] == 5
    assert record["users"]["connected"] == 4
    assert record["users"]["frames"] > 0, "subscribers received no frames"
    assert record["users"]["latency"]["command"]["count"] > 0, "no command round trips"
    assert any("inference" in t for t in record["stage_ticks"]), "no stage timings"
    assert record["first_tick_s"] > 0  # the kernels compiled before anyone measured
    assert any("serve" in label for label in record["server_processes"].values())
    users = record["users"]
    assert users["cpu_s"] > 0 and users["http"]["opened"] >= 1
    assert users["latency"]["loop_lag"]["count"] > 0, "the generator's lag went unmeasured"


def test_injected_delay_shows_in_the_report(tiny_report):
    out, markdown = tiny_report
    row = _row(markdown, "## 5. Performance profiles", "tiny")
    p50 = float(row["REST p50"].removesuffix(" ms"))
    assert p50 >= DELAY_MS
    # WebSocket traffic is not delayed: the ping's median round trip is short of REST's by
    # most of the delay (same run, same machine: a busy machine slows both alike)
    samples = json.loads((out / "raw" / "latencies-tiny.json").read_text())
    ping_p50 = LatencyRecord.from_json(samples["ws_ping"]).summary()["p50"]
    assert ping_p50 <= p50 - DELAY_MS / 2


def test_report_figures_equal_the_raw_json(tiny_report):
    out, markdown = tiny_report
    samples = json.loads((out / "raw" / "latencies-tiny.json").read_text())
    rest = LatencyRecord.from_json(samples["rest"]).summary()
    ping = LatencyRecord.from_json(samples["ws_ping"]).summary()
    (record,) = json.loads((out / "raw" / "profile-tiny.json").read_text())
    assert rest == record["users"]["latency"]["rest"]
    row = _row(markdown, "## 5. Performance profiles", "tiny")
    assert row["REST p50"] == ms(rest["p50"])
    assert row["REST p95"] == ms(rest["p95"])
    assert row["ping p95"] == ms(ping["p95"])
    ws = _row(markdown, "## 3. WebSocket performance", "tiny")
    assert ws["ping avg"] == ms(ping["avg"])
    assert ws["connections"] == str(record["users"]["connected"])
    (fig,) = [figures(p) for p in load_raw(out)["profiles"]]
    assert row["errors"].startswith(f"{fig['errors']} (")
    assert row["status"].endswith(fig["band"])
    assert row["REST p99"] == ms(rest["p99"])
    assert row["server CPU"] == f"{fig['server_cpu_mean']:.0f} % ({len(fig['server_by_pid'])})"
    assert row["generator CPU"] == f"{fig['clients_cpu_mean']:.0f} % (1)"
    assert row["limit"] == fig["limit"] in ("generator", "machine", "server", "none")
    limits = _row(markdown, "### Server or generator", "tiny")
    assert limits["limit"].split(";")[0] == fig["limit"]
    assert "serve" in limits["server processes"]


def test_thresholds_are_evaluated_per_profile(tiny_report):
    _, markdown = tiny_report
    section = markdown.split("## 7.", 1)[1].split("\n## ", 1)[0]
    for name in ("CPU usage", "Memory usage", "Response time", "Error rate"):
        assert f"| tiny | {name} |" in section


@pytest.mark.slow
def test_ctrl_c_still_writes_partial_results(tmp_path):
    """SIGINT mid-measurement: exit 130, the profile's raw file marked interrupted, a report.

    The signal goes when the run says it is measuring (however long a loaded machine
    takes to get there), so the time allowed after it covers only the interrupt path:
    workers hand in at once, whatever stage they are at.
    """
    cmd = [
        sys.executable, "-m", "freeagentics.cli", "loadtest", "--agents", "5", "--users", "3",
        "--duration", "120", "--report", str(tmp_path), "--skip-engine", "--skip-database",
    ]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    lines: queue.Queue[bytes] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True)
    reader.start()
    seen: list[bytes] = []
    deadline = time.monotonic() + 300  # start-up (server, simulation, workers) on a busy machine
    try:
        while not any(b"measuring custom" in line for line in seen):
            assert proc.poll() is None and time.monotonic() < deadline, b"".join(seen)[-2000:]
            with contextlib.suppress(queue.Empty):
                seen.append(lines.get(timeout=0.5))
        time.sleep(3)  # a few pings counted (1 s interval)
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(timeout=10)
    while not lines.empty():
        seen.append(lines.get())
    output = b"".join(seen).decode(errors="replace")
    assert "interrupted; the report holds what was measured so far" in output, output[-2000:]
    (record,) = json.loads((tmp_path / "raw" / "profile-custom.json").read_text())
    assert record["interrupted"] is True
    assert record["users"]["latency"]["ws_ping"]["count"] > 0
    report = Path(tmp_path / "report.md").read_text()
    assert "custom (interrupted)" in report
