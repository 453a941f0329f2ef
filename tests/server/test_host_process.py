"""The host process: the API's loop stays free, strangers cannot drive it, a dead host is
a 503 and comes back from its checkpoints once, and it never outlives its parent."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import httpx
import orjson
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families
from server.conftest import SMALL, serving
from server.conftest import until as _until

from freeagentics.hosts import frame
from freeagentics.loadtest.server import parse_metrics
from freeagentics.server.app import create_app
from freeagentics.server.settings import Settings

API = "/api/v1"
EVERY = 10  # ticks between periodic checkpoints
#: a population whose step of many ticks takes seconds
BIG = {
    **SMALL,
    "world": {**SMALL["world"], "height": 128, "width": 128},
    # 1 000 ticks of these take far longer than the probes on any machine (ended early)
    "agents": {"explorer": 12_000},
}


def _settings(tmp_path, **overrides) -> Settings:
    values = {
        "database_url": f"sqlite:///{tmp_path / 'host.db'}",
        "demo": False,
        "tick_rate_hz": 100.0,
        "frame_rate_hz": 100.0,
        "rate_limit_per_minute": 1_000_000,
        "checkpoint_every_ticks": EVERY,
        "simulation_host": "process",
        **overrides,
    }
    return Settings(**values)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie (exited, not yet reaped by its parent) is gone too
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] == "Z"


@pytest.mark.slow
def test_the_event_loop_and_other_calls_answer_while_the_host_steps_and_strangers_knock(tmp_path):
    # a host deadline longer than the step, so that ``done`` means the step itself ended
    app = create_app(_settings(tmp_path, host_call_timeout_seconds=3_600))
    with serving(app) as port:
        base = f"http://127.0.0.1:{port}{API}"
        big = httpx.post(f"{base}/simulations", json={"scenario": BIG}).json()["id"]
        other = httpx.post(f"{base}/simulations", json={"scenario": SMALL}).json()["id"]
        done = threading.Event()

        def long_step():
            httpx.post(f"{base}/simulations/{big}/step", json={"n": 1000}, timeout=None)
            done.set()

        stepping = threading.Thread(target=long_step, daemon=True)
        stepping.start()
        _until(lambda: httpx.get(f"{base}/simulations/{big}").json()["tick"] > 0, what="a tick")

        async def probes() -> list[float]:
            latencies = []
            async with (
                httpx.AsyncClient(timeout=30) as client,
                websockets.connect(f"ws://127.0.0.1:{port}/ws") as ws,
            ):
                for i in range(10):
                    start = time.perf_counter()
                    assert (await client.get(f"{base}/health/live")).status_code == 200
                    other_sim = await client.get(f"{base}/simulations/{other}")
                    assert other_sim.json()["tick"] == 0  # the host answers beside the step
                    await ws.send(orjson.dumps({"type": "ping", "id": i}).decode())
                    assert orjson.loads(await ws.recv())["type"] == "pong"
                    sub = {"type": "subscribe", "id": i, "topic": "world", "sim_id": other}
                    await ws.send(orjson.dumps(sub).decode())
                    assert orjson.loads(await ws.recv())["ok"] is True
                    latencies.append(time.perf_counter() - start)
            return latencies

        latencies = asyncio.run(probes())
        still_stepping = not done.is_set()
        _strangers_are_refused(app.state.host.port)
        assert httpx.post(f"{base}/simulations/{big}/pause").status_code == 409  # not running
        # end the step early: a start between ticks ends it (the ticks run so far stand);
        # the host still serves after the strangers
        assert httpx.post(f"{base}/simulations/{big}/start").status_code == 200
        stepping.join(60)
    # every probe was answered while the step ran: none waited for it (how fast each was
    # depends on the machine's load; that the step held none of them up does not)
    assert still_stepping, "the step ended before the probes did: make BIG bigger"
    assert len(latencies) == 10, latencies
    assert app.state.host.restarts == 0  # the strangers did not bring it down


def _strangers_are_refused(port: int) -> None:
    """Connections without the host's token, or with garbage, are closed unanswered."""
    hostile = [
        frame({"op": "hello", "token": os.urandom(32)}),
        struct.pack(">I", 2**31),  # a length the host never reads the body of
        struct.pack(">I", 16) + b"\xc1" * 16,  # not MessagePack
        frame({"op": "call", "id": 1, "method": "delete", "args": [1], "kwargs": {}}),
    ]
    for data in hostile:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(data)
            assert sock.recv(1024) == b""


@pytest.mark.slow
def test_a_dead_host_is_a_503_then_comes_back_from_its_checkpoints_once(tmp_path):
    app = create_app(_settings(tmp_path))
    with serving(app) as port:
        base = f"http://127.0.0.1:{port}{API}"
        sim = httpx.post(f"{base}/simulations", json={"scenario": SMALL, "start": True}).json()
        url = f"{base}/simulations/{sim['id']}"
        _until(lambda: httpx.get(url).json()["tick"] >= 2 * EVERY + 3, what="ticks")
        host = app.state.host
        first_pid = host.pid

        async def frames_after(action) -> list[int]:
            """Ticks of world frames seen before ``action()`` and after it."""
            async with websockets.connect(f"ws://127.0.0.1:{port}/ws", open_timeout=30) as ws:
                sub = {"type": "subscribe", "id": 1, "topic": "world", "sim_id": sim["id"]}
                await ws.send(orjson.dumps(sub).decode())
                assert orjson.loads(await asyncio.wait_for(ws.recv(), 30))["ok"] is True
                await asyncio.wait_for(ws.recv(), 30)  # a frame before
                await asyncio.to_thread(action)
                ticks = []
                while len(ticks) < 3:
                    ticks.append(orjson.loads(await asyncio.wait_for(ws.recv(), 60))["tick"])
                return ticks

        seen = []

        def kill_and_watch():
            seen.append(httpx.get(url).json()["tick"])
            os.kill(first_pid, signal.SIGKILL)
            _until(lambda: _gone(first_pid), what="the killed host")  # the signal is async
            answers = [httpx.get(url)]
            assert answers[0].status_code == 503, answers[0].text
            assert answers[0].json()["type"] == "host_unavailable"
            assert "restarting" in answers[0].json()["detail"]
            ready = httpx.get(f"{base}/health/ready")
            assert ready.status_code == 503 and ready.json()["host"]
            _until(lambda: httpx.get(url).status_code == 200, what="the restarted host")

        ticks = asyncio.run(frames_after(kill_and_watch))
        back = httpx.get(url).json()
        assert host.pid != first_pid and host.restarts == 1
        assert back["status"] == "running"
        assert 0 <= back["ticks_lost"] <= EVERY  # the last periodic checkpoint, at most
        assert min(ticks) >= seen[0] - EVERY  # frames resume, from the restored tick on
        metrics = parse_metrics(httpx.get(f"http://127.0.0.1:{port}/metrics").text)
        assert metrics["freeagentics_host_up"] == 1.0
        assert metrics["freeagentics_host_restarts_total"] == 1.0
        assert metrics["freeagentics_simulations_restored_total"] == 1.0
        assert metrics["freeagentics_restore_ticks_lost_total"] == back["ticks_lost"]

        # a second death is not restarted: every call says so, until the server restarts
        second_pid = host.pid
        os.kill(second_pid, signal.SIGKILL)
        _until(lambda: host.state == "down", what="the host to be down")
        answer = httpx.get(url)
        assert answer.status_code == 503 and "not restarted" in answer.json()["detail"]
        assert httpx.get(f"{base}/health/live").status_code == 200
        metrics = parse_metrics(httpx.get(f"http://127.0.0.1:{port}/metrics").text)
        assert metrics["freeagentics_host_up"] == 0.0
        assert _until(lambda: _gone(second_pid), what="the killed host")


_PARENT = """
import sys, time
from freeagentics.hosts import LocalHostProcess
host = LocalHostProcess("freeagentics.server.hostproc", None)
host.start()
print(host.pid, flush=True)
time.sleep(600)
"""


@pytest.mark.slow
def test_the_host_never_outlives_its_parent():
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, text=True, env=os.environ
    )
    try:
        child = int(parent.stdout.readline())
        assert not _gone(child)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(30)
        _until(lambda: _gone(child), timeout=30, what="the orphaned host to exit")
    finally:
        if parent.poll() is None:
            parent.kill()


@pytest.mark.parametrize("host_mode", ["process"])
def test_the_metrics_of_both_processes_are_on_the_apis_metrics(client, sim):
    assert client.post(f"{API}/simulations/{sim}/step", json={"n": 3}).status_code == 200
    text = client.get("/metrics").text
    names = [f.name for f in text_string_to_metric_families(text)]
    assert len(names) == len(set(names))  # each family once, whichever process has it
    metrics = parse_metrics(text)
    assert metrics["freeagentics_tick_duration_seconds_count"] >= 3  # ticks of the host
    assert metrics["freeagentics_db_write_seconds_count"] >= 1
    assert metrics['freeagentics_agents{kind="explorer"}'] == 4
    assert metrics["freeagentics_host_up"] == 1.0
    for process in ("api", "host"):
        assert metrics[f'process_resident_memory_bytes{{process="{process}"}}'] > 0
    assert any(k.startswith("freeagentics_http_request_duration_seconds") for k in metrics)
