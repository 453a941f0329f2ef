"""Simulated users, thousands per process on one loop; ``python -m freeagentics.loadtest.users``.

Each user (see :class:`~freeagentics.loadtest.profiles.Profile`) holds one WebSocket
(:class:`~.wsclient.WsConnection`) subscribed to the simulation's world topic in
MessagePack and counts the frames it gets, pings it with its own ids (the pong's id
gives the true round trip), makes REST calls (:class:`~.httpclient.HttpPool`, requests
encoded in advance) separated by exponential think times, and -- for command users --
steps the simulation with ``step`` commands whose acks carry the command's id back.

The users are lean so that the generator costs less than the server it measures: no
task per user, only timer callbacks on one event loop (uvloop where installed); frames
delimited and counted, not decoded; REST responses checked by status line and length.
They stay honest: every response and frame is checked (status code, frame well-formed,
reply type), failures are counted by kind with a first example, round trips still
unanswered at the end count as errors, and the loop's own lag (how late its timers
fire) is recorded so a report can tell the generator's delays from the server's.

The process waits for the parent's ``go`` file, measures from ``go + warmup_s`` for
``duration_s`` (or until a ``stop`` file appears, it gets SIGINT, or -- with ``lifeline``
in its spec -- its stdin ends because the parent died: at any stage, so an interrupted
run never waits for a warm-up), and writes one JSON result whose latency
records are :class:`~freeagentics.loadtest.histogram.LatencyRecord` documents and whose
``cpu_s`` is the process's own CPU time (user + system) over the measured window.
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
from urllib.parse import urlsplit

import orjson

from freeagentics.lifeline import watch
from freeagentics.loadtest.fdlimit import raise_fd_limit
from freeagentics.loadtest.handoff import publish
from freeagentics.loadtest.histogram import LatencyRecord
from freeagentics.loadtest.httpclient import HttpPool, get_request
from freeagentics.loadtest.wsclient import HandshakeError, WsConnection, open_ws

__all__ = ["LAG_INTERVAL_S", "MAX_PINGS_WAITING", "RAMP_BATCH", "STALE_S", "run_users"]

API = "/api/v1"
#: REST calls a user makes, chosen uniformly
ROUTES = ("simulation", "agents", "agent")
#: a round trip still unanswered this long after it was sent counts as an error
STALE_S = 10.0
#: WebSocket connections opened at once while ramping up (a batch completes before the
#: next starts: a burst of thousands would overflow the server's accept backlog)
RAMP_BATCH = 100
#: the loop-lag probe's period: each firing records how late it came
LAG_INTERVAL_S = 0.05
#: seconds a WebSocket may take to open and acknowledge its subscription
CONNECT_TIMEOUT_S = 120.0
#: unanswered pings a user keeps at most: beyond, a due ping is not sent but counted as
#: an error (``ws_ping_backlog``), so what waits for replies stays bounded
MAX_PINGS_WAITING = 16
#: once the parent is gone, seconds the users get to stop before the process exits
LIFELINE_GRACE_S = 10.0


class _State:
    """Counters shared by the users of one process."""

    def __init__(self, spec: dict[str, Any]):
        self.spec = spec
        self.counting = False
        self.stopping = False
        self.records = {k: LatencyRecord() for k in ("rest", "ws_ping", "command", "loop_lag")}
        self.by_route = {r: LatencyRecord() for r in ROUTES}
        self.errors: dict[str, int] = {}
        #: the first message seen of each kind of error, so a report can say what failed
        self.examples: dict[str, str] = {}
        self.operations = 0
        self.frames = 0
        self.frame_bytes = 0
        #: round trips under way: message id -> (kind, start, on_reply, link)
        self.pending: dict[Any, tuple] = {}
        #: REST requests under way (request number -> start time)
        self.rest_in_flight: dict[int, float] = {}
        self.ids = itertools.count()

    def error(self, kind: str, example: str = "") -> None:
        """An operation failed while measuring (outside the window it does not count)."""
        if self.counting:
            self.fault(kind, example)

    def fault(self, kind: str, example: str = "") -> None:
        """A failure that counts whenever it happens (a user lost for the rest of the run)."""
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
        ("unanswered", [entry[1] for entry in st.pending.values()]),
        ("rest_unanswered", list(st.rest_in_flight.values())),
    ):
        stale = sum(1 for t0 in starts if now - t0 > STALE_S)
        if stale:
            st.errors[kind] = st.errors.get(kind, 0) + stale


class _Link:
    """One user's WebSocket and what its callbacks need."""

    __slots__ = ("close_code", "conn", "failed", "pings", "st")

    def __init__(self, st: _State):
        self.st = st
        self.conn: WsConnection | None = None
        self.close_code: int | None = None
        self.failed = False
        self.pings = 0  # pings sent and not answered yet

    def on_binary(self, length: int) -> None:
        st = self.st
        if st.counting:
            st.frames += 1
            st.frame_bytes += length

    def on_text(self, payload: bytes) -> None:
        st = self.st
        try:
            doc = orjson.loads(payload)
            mid, kind_of_reply = doc.get("id"), doc.get("type")
        except (orjson.JSONDecodeError, AttributeError):
            st.error("ws_bad_reply", bytes(payload[:300]).decode(errors="replace"))
            return
        entry = st.pending.pop(mid, None)
        if entry is None:
            if kind_of_reply == "error":
                st.error("ws_error", str(doc.get("error")))
            return
        kind, started, on_reply, _link = entry
        if kind == "ws_ping":
            self.pings -= 1
        expected = "pong" if kind == "ws_ping" else "ack"
        if kind_of_reply != expected:
            st.error(f"{kind}_unexpected_reply", str(doc)[:300])
        elif kind_of_reply == "ack" and not doc.get("ok"):
            st.error(f"{kind}_{doc.get('code', 'failed')}", str(doc.get("error")))
        elif kind in st.records:
            st.done(kind, started)
        if on_reply is not None:
            on_reply(doc)

    def on_close(self, code: int) -> None:
        self.close_code = code

    def on_error(self, kind: str, detail: str) -> None:
        if not self.st.stopping:
            self.failed = True
            self.st.fault(kind, detail)

    def on_lost(self) -> None:
        st = self.st
        if st.stopping or self.conn is None:
            return
        if not self.failed:
            code = self.close_code
            st.fault("ws_lost" if code is None else f"ws_closed_{code}")
        # its round trips will never be answered: they were counted with the loss
        for mid in [m for m, entry in st.pending.items() if entry[3] is self]:
            del st.pending[mid]

    def send(self, kind: str, body: bytes, mid: Any, on_reply: Any = None) -> None:
        """Send ``body`` (JSON text) as round trip ``mid`` of ``kind``."""
        assert self.conn is not None
        self.st.pending[mid] = (kind, time.perf_counter(), on_reply, self)
        self.conn.send(body)


async def _open_user(st: _State, host: str, port: int, path: str, sub: bytes) -> _Link:
    """A user's WebSocket, open and subscribed."""
    link = _Link(st)
    conn = await open_ws(
        host,
        port,
        path,
        timeout_s=CONNECT_TIMEOUT_S,
        on_binary=link.on_binary,
        on_text=link.on_text,
        on_close=link.on_close,
        on_error=link.on_error,
        on_lost=link.on_lost,
    )
    link.conn = conn
    acked: asyncio.Future[dict] = asyncio.get_running_loop().create_future()
    mid = f"sub-{next(st.ids)}"

    def on_ack(doc: dict) -> None:
        if not acked.done():
            acked.set_result(doc)

    link.send("subscribe", sub[:-1] + b',"id":"' + mid.encode() + b'"}', mid, on_ack)
    try:
        doc = await asyncio.wait_for(acked, CONNECT_TIMEOUT_S)
    except BaseException:
        st.pending.pop(mid, None)
        conn.abort()
        raise
    if not doc.get("ok"):
        conn.abort()
        raise HandshakeError(101, f"subscription refused: {doc}")
    return link


class _Users:
    """The activities of one process's users, as timer callbacks on its event loop."""

    def __init__(self, st: _State, pool: HttpPool, requests: dict[str, list[bytes]]):
        self.st, self.pool, self.requests = st, pool, requests
        self.loop = asyncio.get_running_loop()
        spec = st.spec
        self.interval = spec["ping_interval_s"]
        self.think = spec["think_s"]
        self.command_gap = spec["command_users"] / spec["tick_rate_hz"]
        sim = orjson.dumps(spec["sim_id"])
        self.command_head = (
            b'{"type":"command","action":"step","sim_id":' + sim + b',"args":{"n":1},"id":'
        )

    def start(self, links: list[_Link], commanders: list[_Link], users: int) -> None:
        later = self.loop.call_later
        for link in links:  # spread the users' pings out
            later(random.uniform(0, self.interval), self.ping, link)
        for link in commanders:
            later(random.expovariate(1 / self.command_gap), self.command, link)
        for _ in range(users):
            later(random.expovariate(1 / self.think), self.rest)
        self.lag(self.loop.time())

    def ping(self, link: _Link) -> None:
        if self.st.stopping or link.conn is None or link.conn.closed:
            return
        self.loop.call_later(self.interval, self.ping, link)
        if link.pings >= MAX_PINGS_WAITING:
            self.st.error("ws_ping_backlog", f"{link.pings} pings unanswered")
            return
        link.pings += 1
        mid = next(self.st.ids)
        link.send("ws_ping", b'{"type":"ping","id":%d}' % mid, mid)

    def command(self, link: _Link) -> None:
        if self.st.stopping or link.conn is None or link.conn.closed:
            return
        mid = next(self.st.ids)
        link.send("command", self.command_head + b"%d}" % mid, mid, lambda _doc: self._next(link))

    def _next(self, link: _Link) -> None:
        self.loop.call_later(random.expovariate(1 / self.command_gap), self.command, link)

    def rest(self) -> None:
        st = self.st
        if st.stopping:
            return
        route = random.choice(ROUTES)
        raw = random.choice(self.requests[route])
        started = time.perf_counter()
        counting = st.counting
        request = next(st.ids)
        st.rest_in_flight[request] = started

        def done(status: int | None, body: bytes | None, error: str | None) -> None:
            st.rest_in_flight.pop(request, None)
            if error is not None:
                st.error(error)
            elif status is None or not 200 <= status < 300:
                st.error(f"rest_http_{status}", (body or b"").decode(errors="replace"))
            elif counting and st.counting:
                st.done("rest", started)
                st.by_route[route].add(st.records["rest"].samples[-1])
            if not st.stopping:
                self.loop.call_later(random.expovariate(1 / self.think), self.rest)

        self.pool.request(raw, done)

    def lag(self, expected: float) -> None:
        """Record how late this timer fired, and set the next one."""
        if self.st.stopping:
            return
        now = self.loop.time()
        if self.st.counting:
            self.st.records["loop_lag"].add(max(0.0, now - expected) * 1e3)
        self.loop.call_at(now + LAG_INTERVAL_S, self.lag, now + LAG_INTERVAL_S)


async def fetch(pool: HttpPool, raw: bytes) -> bytes:
    """One request's body through ``pool``; raises ``RuntimeError`` unless it answered 2xx."""
    answer: asyncio.Future[tuple] = asyncio.get_running_loop().create_future()

    def done(*outcome: Any) -> None:
        if not answer.done():
            answer.set_result(outcome)

    pool.request(raw, done, keep_body=True)
    status, body, error = await asyncio.wait_for(answer, CONNECT_TIMEOUT_S)
    if error is not None or status is None or not 200 <= status < 300:
        raise RuntimeError(f"GET failed: {error or status} {body[:300] if body else b''!r}")
    return body


def _requests(host: str, sim: Any, agent_ids: list[int]) -> dict[str, list[bytes]]:
    """Every REST request the users make, encoded once."""
    base = f"{API}/simulations/{sim}"
    return {
        "simulation": [get_request(host, base)],
        "agents": [get_request(host, f"{base}/agents?limit=20&offset={k}") for k in range(20)],
        "agent": [get_request(host, f"{base}/agents/{a}?history=4") for a in agent_ids],
    }


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


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _connect_all(st: _State, n: int, sync: Path) -> tuple[list[_Link], dict[str, int]]:
    """Open ``n`` users' WebSockets in batches; the open ones and failures by kind."""
    spec = st.spec
    url = urlsplit(spec["ws_url"])
    sub = orjson.dumps(
        {"type": "subscribe", "topic": "world", "sim_id": spec["sim_id"], "format": "msgpack"}
    )
    links: list[_Link] = []
    failures: dict[str, int] = {}
    for first in range(0, n, RAMP_BATCH):
        if _stopped(sync, st):
            break
        made = await asyncio.gather(
            *(
                _open_user(st, url.hostname, url.port, url.path, sub)
                for _ in range(min(RAMP_BATCH, n - first))
            ),
            return_exceptions=True,
        )
        for link in made:
            if isinstance(link, BaseException):
                status = getattr(link, "status", None)
                kind = f"ws_connect_{status or type(link).__name__}"
                failures[kind] = failures.get(kind, 0) + 1
                st.examples.setdefault(kind, str(link)[:300])
            else:
                links.append(link)
    return links, failures


async def run_users(spec: dict[str, Any]) -> dict[str, Any]:
    """Run ``spec["users"]`` users until the measurement ends; the process's result."""
    st = _State(spec)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, lambda: setattr(st, "stopping", True))
    if spec.get("lifeline"):  # stdin is the parent's pipe: it ends when the parent dies
        watch(lambda: setattr(st, "stopping", True), LIFELINE_GRACE_S, "simulated users")
    sync = Path(spec["sync_dir"])
    n = spec["users"]
    start = time.perf_counter()
    links, connect_failures = await _connect_all(st, n, sync)
    ramp_s = time.perf_counter() - start
    base = urlsplit(spec["base"])
    pool = HttpPool(base.hostname, base.port, max(1, spec.get("http_connections", n)))
    host = base.netloc
    first_page = get_request(host, f"{API}/simulations/{spec['sim_id']}/agents?limit=100")
    page = orjson.loads(await fetch(pool, first_page))
    agent_ids = [a["id"] for a in page["items"]] or [0]
    users = _Users(st, pool, _requests(host, spec["sim_id"], agent_ids))
    publish(sync / f"ready-{spec['index']}", json.dumps({"connected": len(links)}))
    # a stop at any point before the measurement skips straight to the result: an
    # interrupted run waits for nobody's warm-up
    go = await _wait_go(sync, st, spec["ready_timeout_s"])
    commanders = [link for i, link in enumerate(links) if (spec["first_user"] + i) in spec["cmd"]]
    elapsed = cpu_s = 0.0
    if go is not None and await _sleep_unless_stopped(sync, st, go - time.time()):
        users.start(links, commanders, n)
        if await _sleep_unless_stopped(sync, st, go + spec["warmup_s"] - time.time()):
            st.counting = True
            began, cpu0 = time.perf_counter(), _cpu_s()
            await _sleep_unless_stopped(sync, st, spec["duration_s"])
            elapsed, cpu_s = time.perf_counter() - began, _cpu_s() - cpu0
            count_unanswered(st, time.perf_counter())
    st.counting = False
    st.stopping = True
    for link in links:
        if link.conn is not None:
            link.conn.abort()  # a graceful close of thousands would only time the close
    pool.close()
    errors = dict(st.errors)
    for kind, count in connect_failures.items():
        errors[kind] = errors.get(kind, 0) + count
    return {
        "index": spec["index"],
        "users": n,
        "connected": len(links),
        "command_users": len(commanders),
        "ramp_s": ramp_s,
        "elapsed_s": elapsed,
        "cpu_s": cpu_s,
        "operations": st.operations + len(links),
        "frames": st.frames,
        "frame_bytes": st.frame_bytes,
        "http": {
            "limit": pool.limit,
            "opened": pool.opened,
            "queued": pool.queued,
            "retried": pool.retried,
        },
        "errors": errors,
        "error_examples": st.examples,
        "records": {k: r.to_json() for k, r in st.records.items()},
        "by_route": {k: r.to_json() for k, r in st.by_route.items()},
    }


def _run(main: Any) -> Any:
    try:
        import uvloop
    except ImportError:  # not on Windows: the standard loop serves
        return asyncio.run(main)
    return uvloop.run(main)


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    raise_fd_limit()
    result = _run(run_users(spec))
    Path(spec["result_path"]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
