"""Simulated users, many per worker process; run as ``python -m freeagentics.loadtest.users SPEC``.

Each user (see :class:`~freeagentics.loadtest.profiles.Profile`) holds one WebSocket
subscribed to the simulation's world topic in MessagePack and counts the frames it gets,
pings it with its own ids (the pong's id gives the true round trip), makes REST calls
separated by exponential think times, and — for command users — steps the simulation
with ``step`` commands whose acks carry the command's id back. The process waits for
the parent's ``go`` file, measures from ``go + warmup_s`` for ``duration_s`` (or until a
``stop`` file appears or it gets SIGINT: at any stage, so an interrupted run never waits
for a warm-up), and writes one JSON result whose latency records are
:class:`~freeagentics.loadtest.histogram.LatencyRecord` documents.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import resource
import signal
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import websockets

from freeagentics.loadtest.histogram import LatencyRecord

__all__ = ["run_users"]

API = "/api/v1"
#: REST calls a user makes, chosen uniformly
ROUTES = ("simulation", "agents", "agent")
#: a round trip still unanswered this long after it was sent counts as an error
STALE_S = 10.0


class _State:
    """Counters shared by the users of one process."""

    def __init__(self, spec: dict[str, Any]):
        self.spec = spec
        self.counting = False
        self.stopping = False
        self.records = {k: LatencyRecord() for k in ("rest", "ws_ping", "command")}
        self.by_route = {r: LatencyRecord() for r in ROUTES}
        self.errors: dict[str, int] = {}
        #: the first message seen of each kind of error, so a report can say what failed
        self.examples: dict[str, str] = {}
        self.operations = 0
        self.frames = 0
        self.frame_bytes = 0
        self.pending: dict[Any, tuple[str, float, asyncio.Future | None]] = {}
        #: REST requests under way (request number -> start time)
        self.rest_in_flight: dict[int, float] = {}
        self.ids = itertools.count()

    def error(self, kind: str, example: str = "") -> None:
        if self.counting:
            self.errors[kind] = self.errors.get(kind, 0) + 1
            self.examples.setdefault(kind, example[:300])

    def done(self, kind: str, started: float) -> None:
        if self.counting:
            self.operations += 1
            self.records[kind].add((time.perf_counter() - started) * 1e3)


def count_unanswered(st: _State, now: float) -> None:
    """Count as errors the round trips (``unanswered``) and REST requests
    (``rest_unanswered``) still waiting :data:`STALE_S` after they were sent: on a
    saturated server they would otherwise vanish from the figures instead of failing."""
    for kind, starts in (
        ("unanswered", [t0 for _kind, t0, _future in st.pending.values()]),
        ("rest_unanswered", list(st.rest_in_flight.values())),
    ):
        stale = sum(1 for t0 in starts if now - t0 > STALE_S)
        if stale:
            st.errors[kind] = st.errors.get(kind, 0) + stale


async def _receive(ws: Any, st: _State) -> None:
    try:
        async for message in ws:
            if isinstance(message, bytes):
                if st.counting:
                    st.frames += 1
                    st.frame_bytes += len(message)
                continue
            doc = orjson.loads(message)
            entry = st.pending.pop(doc.get("id"), None)
            if entry is None:
                if doc.get("type") == "error":
                    st.error("ws_error")
                continue
            kind, started, future = entry
            if doc.get("type") == "ack" and not doc.get("ok"):
                st.error(f"command_{doc.get('code', 'failed')}", str(doc.get("error")))
            else:
                st.done(kind, started)
            if future is not None and not future.done():
                future.set_result(doc)
    except websockets.ConnectionClosed:
        if not st.stopping:
            st.error("ws_closed")


async def _send(ws: Any, st: _State, kind: str, body: dict[str, Any], wait: bool) -> None:
    mid = f"{st.spec['index']}-{next(st.ids)}"
    future = asyncio.get_running_loop().create_future() if wait else None
    st.pending[mid] = (kind, time.perf_counter(), future)
    await ws.send(orjson.dumps({**body, "id": mid}).decode())
    if future is not None:
        await asyncio.wait_for(future, timeout=120)


async def _pinger(ws: Any, st: _State, interval: float) -> None:
    await asyncio.sleep(random.uniform(0, interval))  # spread the users' pings out
    while not st.stopping:
        await _send(ws, st, "ws_ping", {"type": "ping"}, wait=False)
        await asyncio.sleep(interval)


async def _commander(ws: Any, st: _State, mean_gap: float) -> None:
    sim_id = st.spec["sim_id"]
    body = {"type": "command", "action": "step", "sim_id": sim_id, "args": {"n": 1}}
    while not st.stopping:
        await asyncio.sleep(random.expovariate(1 / mean_gap))
        try:
            await _send(ws, st, "command", body, wait=True)
        except (TimeoutError, websockets.ConnectionClosed):
            st.error("command_timeout")


async def _rest_user(client: httpx.AsyncClient, st: _State, agent_ids: list[int]) -> None:
    sim = st.spec["sim_id"]
    think = st.spec["think_s"]
    while not st.stopping:
        await asyncio.sleep(random.expovariate(1 / think))
        route = random.choice(ROUTES)
        if route == "simulation":
            url = f"{API}/simulations/{sim}"
        elif route == "agents":
            url = f"{API}/simulations/{sim}/agents?limit=20&offset={random.randrange(20)}"
        else:
            url = f"{API}/simulations/{sim}/agents/{random.choice(agent_ids)}?history=4"
        started = time.perf_counter()
        counting = st.counting
        request = next(st.ids)
        st.rest_in_flight[request] = started
        try:
            r = await client.get(url)
        except httpx.HTTPError as exc:
            st.error(f"rest_{type(exc).__name__}", str(exc))
            continue
        finally:
            del st.rest_in_flight[request]
        if r.status_code >= 400:
            st.error(f"rest_http_{r.status_code}", r.text)
        elif counting and st.counting:
            st.done("rest", started)
            st.by_route[route].add(st.records["rest"].samples[-1])


async def _connect(st: _State) -> Any:
    spec = st.spec
    ws = await websockets.connect(
        spec["ws_url"], compression=None, max_size=None, ping_interval=None, open_timeout=120
    )
    sub = {"type": "subscribe", "topic": "world", "sim_id": spec["sim_id"], "format": "msgpack"}
    await ws.send(orjson.dumps({**sub, "id": "sub"}).decode())
    while True:  # frames may arrive before the ack; skip them
        message = await asyncio.wait_for(ws.recv(), timeout=120)
        if isinstance(message, str) and orjson.loads(message).get("id") == "sub":
            return ws


def _stopped(sync: Path, st: _State) -> bool:
    """Whether the parent wrote its ``stop`` file or this process got SIGINT."""
    return st.stopping or (sync / "stop").exists()


async def _wait_go(sync: Path, st: _State, timeout_s: float) -> float | None:
    """The start time the parent wrote to ``go``; None when stopped first."""
    deadline = time.monotonic() + timeout_s
    while not (sync / "go").exists():
        if _stopped(sync, st):
            return None
        if time.monotonic() > deadline:
            return time.time()
        await asyncio.sleep(0.05)
    return float((sync / "go").read_text())


async def _sleep_unless_stopped(sync: Path, st: _State, seconds: float) -> bool:
    """Sleep ``seconds``; False (at once) when a stop comes first."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if _stopped(sync, st):
            return False
        await asyncio.sleep(min(0.05, max(0.0, end - time.monotonic())))
    return not _stopped(sync, st)


async def run_users(spec: dict[str, Any]) -> dict[str, Any]:
    """Run ``spec["users"]`` users until the measurement ends; the process's result."""
    st = _State(spec)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, lambda: setattr(st, "stopping", True))
    sync = Path(spec["sync_dir"])
    n = spec["users"]
    start = time.perf_counter()
    sockets: list[Any] = []
    for first in range(0, n, 100):  # connect in batches: a burst of thousands overflows backlogs
        if _stopped(sync, st):
            break
        made = await asyncio.gather(
            *(_connect(st) for _ in range(min(100, n - first))), return_exceptions=True
        )
        sockets += [ws for ws in made if not isinstance(ws, BaseException)]
    connect_errors = n - len(sockets)
    ramp_s = time.perf_counter() - start
    limits = httpx.Limits(max_connections=max(n, 1), max_keepalive_connections=max(n, 1))
    client = httpx.AsyncClient(base_url=spec["base"], timeout=120, limits=limits)
    page = await client.get(f"{API}/simulations/{spec['sim_id']}/agents?limit=100")
    agent_ids = [a["id"] for a in page.json()["items"]] or [0]
    (sync / f"ready-{spec['index']}").write_text(json.dumps({"connected": len(sockets)}))
    # a stop at any point before the measurement skips straight to the result: an
    # interrupted run waits for nobody's warm-up
    go = await _wait_go(sync, st, spec["ready_timeout_s"])
    commanders = [ws for i, ws in enumerate(sockets) if (spec["first_user"] + i) in spec["cmd"]]
    tasks: list[asyncio.Task] = []
    elapsed = 0.0
    if go is not None and await _sleep_unless_stopped(sync, st, go - time.time()):
        tasks += [asyncio.create_task(_receive(ws, st)) for ws in sockets]
        tasks += [asyncio.create_task(_pinger(ws, st, spec["ping_interval_s"])) for ws in sockets]
        tasks += [asyncio.create_task(_rest_user(client, st, agent_ids)) for _ in range(n)]
        gap = spec["command_users"] / spec["tick_rate_hz"]
        tasks += [asyncio.create_task(_commander(ws, st, gap)) for ws in commanders]
        if await _sleep_unless_stopped(sync, st, go + spec["warmup_s"] - time.time()):
            st.counting = True
            began = time.perf_counter()
            await _sleep_unless_stopped(sync, st, spec["duration_s"])
            elapsed = time.perf_counter() - began
            count_unanswered(st, time.perf_counter())
    st.counting = False
    st.stopping = True
    for task in tasks:
        task.cancel()
    for ws in sockets:
        ws.transport.abort()  # a graceful close of thousands would only time the close
    await client.aclose()
    errors = dict(st.errors)
    if connect_errors:
        errors["ws_connect"] = connect_errors
    return {
        "index": spec["index"],
        "users": n,
        "connected": len(sockets),
        "command_users": len(commanders),
        "ramp_s": ramp_s,
        "elapsed_s": elapsed,
        "operations": st.operations + len(sockets),
        "frames": st.frames,
        "frame_bytes": st.frame_bytes,
        "errors": errors,
        "error_examples": st.examples,
        "records": {k: r.to_json() for k, r in st.records.items()},
        "by_route": {k: r.to_json() for k, r in st.by_route.items()},
    }


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    result = asyncio.run(run_users(spec))
    Path(spec["result_path"]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
