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

import psutil
import pytest
from loadtest.processes import alive, family, kill_all, wait_until_gone

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


#: a tiny custom profile measured for longer than any test waits
LOADTEST = "--agents 5 --users 3 --duration 900 --skip-engine --skip-database".split()
#: far longer than the way out takes (its steps share 30 s, then the server is killed),
#: and than a server's lifeline grace (30 s), on however busy a machine
ENDS_WITHIN_S = 180.0


def _sigint_as_from_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class LoadTestProcess:
    """``freeagentics loadtest`` in a session of its own, its output read as it comes."""

    def __init__(self, report: Path):
        cmd = [sys.executable, "-m", "freeagentics.cli", "loadtest", *LOADTEST]
        env = {**os.environ, "COLUMNS": "200"}
        self.proc = subprocess.Popen(
            [*cmd, "--report", str(report)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its whole group can be signalled, and cleaned up
            # as from a terminal: a test run started in the background inherits SIGINT
            # ignored, and Python then installs no KeyboardInterrupt for Ctrl-C
            preexec_fn=_sigint_as_from_a_terminal,
        )
        self.lines: queue.Queue[bytes] = queue.Queue()
        self.seen: list[bytes] = []
        self._reader = threading.Thread(
            target=lambda: [self.lines.put(x) for x in self.proc.stdout], daemon=True
        )
        self._reader.start()
        #: every process below it, once :meth:`wait_measuring` returned, and its command
        self.family: dict[psutil.Process, str] = {}

    def wait_measuring(self) -> None:
        """Until the run says it measures (however long a loaded machine takes to get
        there); then note every process below it: the server and its host, the users."""
        deadline = time.monotonic() + 300
        while not any(b"measuring custom" in line for line in self.seen):
            alive = self.proc.poll() is None
            assert alive and time.monotonic() < deadline, self.output()[-2000:]
            with contextlib.suppress(queue.Empty):
                self.seen.append(self.lines.get(timeout=0.5))
        self.family = family(self.proc.pid)

    def output(self) -> str:
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return b"".join(self.seen).decode(errors="replace")

    def kill_everything(self) -> None:
        """Whatever a failed test left: the load test's group, and its server's."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        kill_all(self.family)
        self.proc.wait()
        self._reader.join(timeout=10)


def _kinds(procs: dict[psutil.Process, str]) -> dict[str, int]:
    """How many of ``procs`` are servers, simulation hosts and users' processes."""
    marks = {"serve": " serve ", "host": "hostproc", "users": "loadtest.users"}
    return {kind: sum(mark in f"{cmd} " for cmd in procs.values()) for kind, mark in marks.items()}


@pytest.mark.slow
def test_ctrl_c_still_writes_partial_results(tmp_path):
    """Ctrl-C mid-measurement (SIGINT to the load test's process group, as a terminal
    sends it): exit 130, the profile's raw file marked interrupted, a report, and nothing
    left running. The signal goes once the run measures, so the time allowed after it
    covers only the way out, whose steps share one deadline."""
    run = LoadTestProcess(tmp_path)
    try:
        run.wait_measuring()
        time.sleep(3)  # a few pings counted (1 s interval)
        os.killpg(run.proc.pid, signal.SIGINT)
        assert run.proc.wait(timeout=ENDS_WITHIN_S) == 130
        left = {proc.pid: cmd for proc, cmd in run.family.items() if alive(proc)}
    finally:
        run.kill_everything()
    output = run.output()
    assert "interrupted; the report holds what was measured so far" in output, output[-2000:]
    assert _kinds(run.family) == {"serve": 1, "host": 1, "users": 1}, run.family
    assert left == {}
    (record,) = json.loads((tmp_path / "raw" / "profile-custom.json").read_text())
    assert record["interrupted"] is True
    assert record["users"]["latency"]["ws_ping"]["count"] > 0
    assert list(record["ending_s"]) == ["workers", "metrics", "threads", "summary", "server"]
    report = Path(tmp_path / "report.md").read_text()
    assert "custom (interrupted)" in report


@pytest.mark.slow
def test_a_killed_load_test_leaves_no_server_host_or_users(tmp_path):
    """SIGKILL to the load test alone, mid-measurement: its server (a session of its
    own), the server's simulation host and the users' processes all exit by themselves,
    each on its lifeline (the end of its stdin pipe)."""
    run = LoadTestProcess(tmp_path)
    try:
        run.wait_measuring()
        assert _kinds(run.family) == {"serve": 1, "host": 1, "users": 1}, run.family
        os.kill(run.proc.pid, signal.SIGKILL)
        run.proc.wait(timeout=30)
        wait_until_gone(run.family, ENDS_WITHIN_S)
    finally:
        run.kill_everything()
