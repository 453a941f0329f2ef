"""What each process of ``serve`` loads: the API process no simulation stack, the
simulation host no web stack and nothing it needs only rarely.

Each runs in a fresh interpreter as ``serve`` runs it and does its usual work (the API
answers the dashboard's reads and relays a WebSocket frame from its host; the host runs
the demo and builds frames), then lists its modules. A process imports what it needs
once and keeps it for its life, so these lists are its memory's floor: numpy, numba and
SQLAlchemy in the API would cost some 50 MB that only the host uses, Alembic some 10 MB
the host needs only when its database is behind (then a child migrates it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from freeagentics.loadtest.server import free_port

ROOT = Path(__file__).resolve().parents[2]
#: packages the API process never loads (prefixes of module names)
API_NEVER = ("numpy", "numba", "llvmlite", "scipy", "sqlalchemy", "alembic", "mako")
#: modules of the simulations, which live in the host
API_NEVER_OWN = ("freeagentics.simulation.simulation", "freeagentics.agents.cohort")
#: what the host never loads: the web stack, the command line, Alembic, and
#: scipy.optimize (only the "optimal" coalition strategy uses it; the demo's is greedy)
HOST_NEVER = ("fastapi", "starlette", "uvicorn", "typer", "rich", "alembic", "mako")
HOST_NEVER += ("scipy.optimize",)

API_PROGRAM = """
import json, os, signal, sys, threading, time, urllib.request
from websockets.sync.client import connect

port = sys.argv[1]
base = f"http://127.0.0.1:{port}"

def get(path):
    with urllib.request.urlopen(base + path, timeout=60) as response:
        return json.loads(response.read()) if "json" in response.headers["content-type"] else None

def visit():
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if get("/api/v1/simulations/1")["tick"] >= 1:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the demo did not tick")
            time.sleep(0.2)
        for path in ("/world", "/coalitions", "/knowledge/stats", ""):
            get("/api/v1/simulations/1" + path)
        agent = get("/api/v1/simulations/1/agents")["items"][0]["id"]
        get(f"/api/v1/simulations/1/agents/{agent}")
        for path in ("/metrics", "/docs", "/openapi.json", "/api/v1/health/ready"):
            get(path)
        for fmt, kind in (("json", str), ("msgpack", bytes)):  # a frame of each, relayed
            with connect(f"ws://127.0.0.1:{port}/ws", open_timeout=30) as ws:
                subscribe = {"type": "subscribe", "topic": "world", "sim_id": 1, "format": fmt}
                ws.send(json.dumps(subscribe))
                deadline = time.monotonic() + 60
                while True:
                    message = ws.recv(timeout=30)
                    if isinstance(message, kind) and (kind is bytes or '"frame"' in message):
                        break
                    if time.monotonic() > deadline:
                        raise SystemExit(f"no {fmt} frame")
        print("MODULES " + json.dumps(sorted(sys.modules)), flush=True)
    finally:
        os.kill(os.getpid(), signal.SIGTERM)

threading.Thread(target=visit, daemon=True).start()
from freeagentics.cli import app
app(["serve", "--host", "127.0.0.1", "--port", port], standalone_mode=False)
"""

HOST_PROGRAM = """
import json, sys, time
from freeagentics.server.hostproc import HostRuntime

runtime = HostRuntime()
runtime.open({"database_url": sys.argv[1], "demo": True})
runtime.interest("world/1", True)  # the headless hub builds the demo's frames
deadline = time.monotonic() + 120
while runtime.service.get(1)["tick"] < 3 and time.monotonic() < deadline:
    time.sleep(0.1)
assert runtime.service.get(1)["tick"] >= 3, "the demo did not tick"
print("MODULES " + json.dumps(sorted(sys.modules)), flush=True)
runtime.close()
"""


def _modules(program: str, *args: str, tmp_path: Path) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FREEAGENTICS_")}
    env["FREEAGENTICS_DATA_DIR"] = str(tmp_path)
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", program, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("MODULES ")]
    assert lines, f"exit {done.returncode}: {done.stdout[-2000:]}{done.stderr[-3000:]}"
    return json.loads(lines[0].removeprefix("MODULES "))


def _loaded(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_the_api_process_loads_no_simulation_stack(tmp_path):
    modules = _modules(API_PROGRAM, str(free_port()), tmp_path=tmp_path)
    assert "fastapi" in modules and "freeagentics.hosts" in modules  # it did serve
    assert _loaded(modules, API_NEVER + API_NEVER_OWN) == []


def test_the_host_loads_no_web_stack(tmp_path):
    url = f"sqlite:///{tmp_path / 'host.db'}"
    modules = _modules(HOST_PROGRAM, url, tmp_path=tmp_path)
    assert "numba" in modules and "freeagentics.server.ws.frame_data" in modules  # it ran
    assert _loaded(modules, HOST_NEVER) == []
