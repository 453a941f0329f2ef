"""Every runnable example in examples/ runs and prints what it promises."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from freeagentics.loadtest.server import ServerProcess

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(script: str, *args: str, timeout: float = 300) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=EXAMPLES.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_every_example_script_has_a_test():
    tested = set(re.findall(r'run\(\s*"(\w+\.py)"', Path(__file__).read_text()))
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


def test_from_pymdp():
    out = run("from_pymdp.py", "--agents", "500", "--steps", "12")
    positions = re.search(r"one agent's positions: \[(.*)\]", out).group(1)
    assert len(positions.split(",")) == 12
    share = int(re.search(r"500 agents: (\d+)% end at the better arm", out).group(1))
    assert share >= 70, "most agents find the paying arm (chance is 50 %)"


def test_gmn_kind():
    out = run("gmn_kind.py", "--ticks", "60")
    moved = dict(re.findall(r"(walker|explorer): ([0-9.]+) cells from the start", out))
    assert set(moved) == {"walker", "explorer"}
    assert float(moved["walker"]) > 1.0, "the GMN kind moves"


def test_pettingzoo_env(tmp_path):
    png = tmp_path / "world.png"
    out = run("pettingzoo_env.py", "--cycles", "30", "--png", str(png))
    assert "frame 128x128 pixels" in out
    assert int(re.search(r"AEC: (\d+) turns", out).group(1)) >= 30
    assert png.stat().st_size > 0


@pytest.mark.slow
def test_api_client():
    with ServerProcess() as server:
        out = run("api_client.py", "--url", server.base, "--frames", "3")
    assert "created simulation" in out and "200 agents" in out
    assert len(re.findall(r"tick \d+: mean belief entropy [0-9.]+", out)) == 3
    assert "pause acknowledged: ok=True" in out and "status now: paused" in out
