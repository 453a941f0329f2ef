"""A server killed with SIGKILL brings its simulations back from their latest checkpoints."""

from __future__ import annotations

import os
import re
import signal
import time

import httpx
import pytest
from server.conftest import SMALL

from freeagentics.loadtest.server import ServerProcess

API = "/api/v1"
EVERY = 20  # ticks between periodic checkpoints
RESTORED = re.compile(r"restored simulation (\d+) \(.*\) at tick (\d+) from checkpoint \d+: (\d+)")


def _wait_for(check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.mark.slow
def test_simulations_survive_a_killed_server(tmp_path):
    url = f"sqlite:///{tmp_path / 'server.db'}"
    env = {"FREEAGENTICS_CHECKPOINT_EVERY_TICKS": str(EVERY), "FREEAGENTICS_TICK_RATE_HZ": "50"}
    first = ServerProcess(database_url=url, env=env).start()
    try:
        base = f"{first.base}{API}/simulations"
        running = httpx.post(base, json={"name": "runs", "scenario": SMALL}).json()["id"]
        stepped = httpx.post(base, json={"name": "waits", "scenario": SMALL}).json()["id"]
        httpx.post(f"{base}/{stepped}/step", json={"n": EVERY + 5}).raise_for_status()
        httpx.post(f"{base}/{running}/start").raise_for_status()

        def periodic_done():
            ticks = [c["tick"] for c in httpx.get(f"{base}/{running}/checkpoints").json()]
            return max(ticks) >= 2 * EVERY

        _wait_for(periodic_done)
        seen = httpx.get(f"{base}/{running}").json()["tick"]
        os.kill(first.pid, signal.SIGKILL)
        first.proc.wait(30)
    finally:
        first.stop()

    second = ServerProcess(database_url=url, env=env).start()
    try:
        base = f"{second.base}{API}/simulations"
        back = httpx.get(f"{base}/{running}").json()
        assert back["status"] == "running"
        assert 0 <= back["ticks_lost"] <= EVERY
        held = httpx.get(f"{base}/{stepped}").json()
        assert held["status"] == "created" and held["tick"] == EVERY
        assert 0 <= held["ticks_lost"] <= 5  # ticks the storage writer had recorded
        log = _wait_for(lambda: RESTORED.findall(second.log_tail(20_000)))
        at = {int(sim): (int(tick), int(lost)) for sim, tick, lost in log}
        tick, lost = at[running]
        assert tick % EVERY == 0 and tick >= seen - EVERY and lost == back["ticks_lost"]
        metrics = second.scrape()
        assert metrics["freeagentics_simulations_restored_total"] == 2
        assert metrics["freeagentics_restore_ticks_lost_total"] == lost + held["ticks_lost"]
        # and it goes on running from there
        _wait_for(lambda: httpx.get(f"{base}/{running}").json()["tick"] > tick)
    finally:
        second.stop()
