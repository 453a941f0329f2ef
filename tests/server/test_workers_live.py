"""``freeagentics serve --workers 2`` for real, on PostgreSQL and Redis: any worker answers
any call for any simulation, either worker's ``/metrics`` counts what both served, frames
leave the host once per topic and reach both workers' sockets, a killed worker is
replaced, SIGTERM (or the end of ``--lifeline``'s stdin) stops workers then host, and
nothing outlives a killed supervisor.

Skipped when PostgreSQL or Redis is unreachable, unless ``FREEAGENTICS_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import msgpack
import orjson
import psutil
import pytest
import redis
import sqlalchemy as sa
import websockets
from server.conftest import SMALL, processes

from freeagentics.loadtest.server import free_port, parse_metrics
from freeagentics.server import HOST_PROGRAM, WORKER_PROGRAM
from freeagentics.server.worker import GRACE_S, WORKER_HEADER

pytestmark = pytest.mark.slow

API = "/api/v1"
PG_URL = os.environ.get(
    "FREEAGENTICS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
#: how long every child may take to go once the supervisor is gone or told to stop
GONE_WITHIN_S = GRACE_S + 20.0


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database of this module's own (dropped at the end)."""
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if os.environ.get("FREEAGENTICS_REQUIRE_SERVICES") == "1":
            pytest.fail(f"PostgreSQL at {PG_URL} is required but unreachable: {exc}")
        pytest.skip(f"PostgreSQL at {PG_URL} unreachable")
    name = f"fa_workers_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@dataclass
class Served:
    proc: subprocess.Popen
    port: int
    prefix: str
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def children(self) -> dict[int, str]:
        """pid -> "host" or "worker", for the supervisor's living children."""
        out = {}
        for child in psutil.Process(self.proc.pid).children():
            with contextlib.suppress(psutil.Error):
                line = " ".join(child.cmdline())
                if HOST_PROGRAM in line:
                    out[child.pid] = "host"
                elif WORKER_PROGRAM in line:
                    out[child.pid] = "worker"
        return out

    def client_on(self, worker: str, timeout: float = 30.0) -> httpx.Client:
        """A keep-alive client whose connection a given worker accepted."""
        deadline = time.monotonic() + timeout
        while True:
            client = httpx.Client(base_url=self.base + API, timeout=30)
            try:
                r = client.get("/health/ready")
                if r.status_code == 200 and r.headers[WORKER_HEADER] == worker:
                    return client
            except httpx.HTTPError:
                pass
            client.close()
            assert time.monotonic() < deadline, f"worker {worker} never answered\n{self.tail()}"
            time.sleep(0.02)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def _start(
    tmp_path: Path, database: str, redis_url: str, *, lifeline: bool = False, **env: str
) -> Served:
    """``serve --workers 2`` started (not yet serving); with ``lifeline``, on a pipe on
    its stdin (``--lifeline``)."""
    port, prefix = free_port(), f"fa-test-workers-{uuid.uuid4().hex[:8]}"
    values = {
        "DATABASE_URL": database,
        "REDIS_URL": redis_url,
        "WS_REDIS_PREFIX": prefix,
        "SHARED_LIMITS_PREFIX": f"{prefix}:limits",
        "RATE_LIMIT_PER_MINUTE": "1000000",
        "WS_CONNECTS_PER_MINUTE": "100000",
        "TICK_RATE_HZ": "40",
        "FRAME_RATE_HZ": "40",
        "CHECKPOINT_EVERY_TICKS": "0",
        **env,
    }
    full = {**os.environ, **{f"FREEAGENTICS_{k}": v for k, v in values.items()}}
    cmd = [sys.executable, "-m", "freeagentics.cli", "serve", "--workers", "2"]
    cmd += ["--port", str(port), "--no-demo", *(["--lifeline"] if lifeline else [])]
    log = tmp_path / f"serve-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            env=full,
            stdin=subprocess.PIPE if lifeline else None,
            stdout=out,
            stderr=out,
        )
    return Served(proc, port, prefix, log)


@contextlib.contextmanager
def serving(
    tmp_path: Path, database: str, redis_url: str, *, lifeline: bool = False, **env: str
) -> Iterator[Served]:
    """``serve --workers 2`` until the block ends (SIGKILLed then, if still running)."""
    served = _start(tmp_path, database, redis_url, lifeline=lifeline, **env)
    proc = served.proc
    try:
        for worker in ("0", "1"):
            served.client_on(worker, timeout=120).close()
        yield served
    finally:
        family = list(served.children()) if proc.poll() is None else []
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
        for pid in family:
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(f"{served.prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory, pg_database, redis_url) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("workers"), pg_database, redis_url) as server:
        yield server


def _on(served: Served, worker: str, method: str, path: str, **kwargs) -> httpx.Response:
    """``method path`` answered by ``worker``: sent at once on a connection that worker
    accepted (a keep-alive connection left idle would be closed, and its replacement
    could land on the other worker)."""
    with contextlib.closing(served.client_on(worker)) as client:
        response = client.request(method, path, **kwargs)
    assert response.headers[WORKER_HEADER] == worker
    return response


def test_any_worker_answers_any_rest_call_for_any_simulation(served):
    created = _on(served, "0", "POST", "/simulations", json={"name": "shared", "scenario": SMALL})
    assert created.status_code == 201
    sim = created.json()["id"]
    stepped = _on(served, "1", "POST", f"/simulations/{sim}/step", json={"n": 5})
    assert stepped.status_code == 200 and stepped.json()["tick"] == 5, stepped.text
    assert _on(served, "0", "GET", f"/simulations/{sim}").json()["tick"] == 5
    agents = _on(served, "1", "GET", f"/simulations/{sim}/agents")
    assert agents.status_code == 200 and agents.json()["total"] == 8
    assert sim in {s["id"] for s in _on(served, "0", "GET", "/simulations").json()}
    assert _on(served, "1", "DELETE", f"/simulations/{sim}").status_code == 204
    assert _on(served, "0", "GET", f"/simulations/{sim}").status_code == 404


def _scrape(served: Served, worker: str) -> dict[str, float]:
    """``/metrics`` as ``worker`` answers it."""
    with contextlib.closing(served.client_on(worker)) as client:
        response = client.get(f"{served.base}/metrics")
    assert response.status_code == 200 and response.headers[WORKER_HEADER] == worker
    return parse_metrics(response.text)


#: requests to ``GET /auth/me``, which no other test here asks for
ME = f'freeagentics_http_request_duration_seconds_count{{method="GET",route="{API}/auth/me"}}'


def _ask_me(served: Served, counts: dict[str, int]) -> None:
    """``GET /auth/me`` as many times as ``counts`` says, answered by each worker named."""
    for worker, n in counts.items():
        with contextlib.closing(served.client_on(worker)) as client:
            for _ in range(n):  # at once, on the connection that worker accepted
                response = client.get("/auth/me")
                assert response.status_code == 200 and response.headers[WORKER_HEADER] == worker


def test_one_scrape_of_either_worker_counts_what_both_served(served):
    _ask_me(served, {"0": 3, "1": 4})

    async def main():
        sockets = [await _socket_on(served, "0"), await _socket_on(served, "1")]
        try:
            for worker in ("0", "1"):  # the other worker's figures are at most a period old
                deadline = time.monotonic() + 30
                while True:
                    scraped = await asyncio.to_thread(_scrape, served, worker)
                    if scraped.get(ME) == 7 and scraped["freeagentics_websocket_connections"] == 2:
                        break
                    assert time.monotonic() < deadline, {
                        k: v for k, v in scraped.items() if "auth" in k or "websocket" in k
                    }
                    await asyncio.sleep(0.2)
                assert scraped["freeagentics_metrics_workers_reporting"] == 2
                assert scraped["freeagentics_metrics_shared_up"] == 1
                assert scraped["freeagentics_host_up"] == 1
                assert processes(scraped) == {"api-0", "api-1", "host"}
        finally:
            for ws in sockets:
                await ws.close()

    asyncio.run(main())


async def _socket_on(served: Served, worker: str):
    deadline = time.monotonic() + 30
    while True:
        ws = await websockets.connect(f"ws://127.0.0.1:{served.port}/ws", max_size=None)
        if ws.response.headers[WORKER_HEADER] == worker:
            return ws
        await ws.close()
        assert time.monotonic() < deadline, f"no socket on worker {worker}"


async def _request(ws, message: dict) -> dict:
    """Send ``message``; its ack (frames arriving meanwhile are skipped)."""
    await ws.send(orjson.dumps(message).decode())
    while True:
        reply = await asyncio.wait_for(ws.recv(), 30)
        if isinstance(reply, str):
            doc = orjson.loads(reply)
            if doc.get("id") == message["id"]:
                return doc


def test_websocket_commands_run_anywhere_and_frames_leave_the_host_once(served, redis_url):
    with contextlib.closing(served.client_on("0")) as rest:
        sim = rest.post("/simulations", json={"name": "frames", "scenario": SMALL}).json()["id"]
    key = f"world/{sim}"
    watcher = redis.Redis.from_url(redis_url).pubsub()
    watcher.subscribe(f"{served.prefix}:frame:{key}")  # what the host publishes, as Redis sees it

    async def main():
        ws0, ws1 = await _socket_on(served, "0"), await _socket_on(served, "1")
        frames: dict[str, dict[int, bytes]] = {"0": {}, "1": {}}
        for ws in (ws0, ws1):
            sub = {"type": "subscribe", "id": 1, "topic": "world", "sim_id": sim}
            ack = await _request(ws, {**sub, "format": "msgpack"})
            assert ack["ok"] is True, ack
        started = await _request(
            ws1, {"type": "command", "id": 2, "action": "start", "sim_id": sim}
        )
        assert started["ok"] is True, started

        async def collect(name, ws):
            while len(frames[name]) < 8:
                message = await asyncio.wait_for(ws.recv(), 30)
                if isinstance(message, bytes):
                    frames[name][msgpack.unpackb(message)["tick"]] = message

        await asyncio.gather(collect("0", ws0), collect("1", ws1))
        paused = await _request(ws0, {"type": "command", "id": 3, "action": "pause", "sim_id": sim})
        assert paused["ok"] is True and paused["result"]["status"] == "paused", paused
        step = {"type": "command", "id": 4, "action": "step", "sim_id": sim, "args": {"n": 2}}
        stepped = await _request(ws1, step)
        assert stepped["ok"] is True and stepped["result"]["tick"] == paused["result"]["tick"] + 2
        for ws in (ws0, ws1):
            await ws.close()
        return frames

    frames = asyncio.run(main())
    published: list[int] = []
    while (message := watcher.get_message(timeout=0.5)) is not None:
        if message["type"] == "message":
            published.append(msgpack.unpackb(message["data"][16:])["tick"])  # after the origin
    watcher.close()
    both = set(frames["0"]) & set(frames["1"])
    assert len(both) >= 4, frames.keys()
    for tick in both:  # the same bytes on both workers' sockets
        assert frames["0"][tick] == frames["1"][tick]
    assert len(published) >= len(both)
    assert len(published) == len(set(published)), "a frame left the host more than once"
    assert both <= set(published)


def test_a_restarted_host_is_reached_by_every_worker_and_its_frames_resume(served, redis_url):
    with contextlib.closing(served.client_on("0")) as rest:
        body = {"name": "survivor", "scenario": SMALL, "start": True}
        sim = rest.post("/simulations", json=body).json()["id"]
        assert rest.post(f"/simulations/{sim}/checkpoints").status_code == 201
    (host,) = [pid for pid, role in served.children().items() if role == "host"]

    async def main():
        ws = await _socket_on(served, "1")
        sub = {"type": "subscribe", "id": 1, "topic": "world", "sim_id": sim, "format": "msgpack"}
        assert (await _request(ws, sub))["ok"] is True
        while not isinstance(await asyncio.wait_for(ws.recv(), 30), bytes):
            pass  # a frame came: the subscription is served
        os.kill(host, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while not [p for p, role in served.children().items() if role == "host" and p != host]:
            assert time.monotonic() < deadline, f"no new host\n{served.tail()}"
            await asyncio.sleep(0.05)
        # the new host takes up the topic the worker wants (its interest is in Redis)
        watcher = redis.Redis.from_url(redis_url).pubsub()
        watcher.subscribe(f"{served.prefix}:frame:world/{sim}")
        published = None
        while published is None:
            message = watcher.get_message(timeout=0.2)
            if message is not None and message["type"] == "message":
                published = msgpack.unpackb(message["data"][16:])["tick"]
            assert time.monotonic() < deadline, f"the new host publishes nothing\n{served.tail()}"
            await asyncio.sleep(0)
        watcher.close()
        while True:  # the worker's socket gets the new host's frames
            frame = await asyncio.wait_for(ws.recv(), 30)
            if isinstance(frame, bytes) and msgpack.unpackb(frame)["tick"] >= published:
                break
        await ws.close()

    asyncio.run(main())
    for worker in ("0", "1"):
        with contextlib.closing(served.client_on(worker, timeout=60)) as rest:
            assert rest.get(f"/simulations/{sim}").json()["status"] == "running"


def test_a_killed_worker_is_replaced_while_the_other_serves(served):
    workers = [pid for pid, role in served.children().items() if role == "worker"]
    assert len(workers) == 2
    victim = workers[0]
    os.kill(victim, signal.SIGKILL)
    answered = []
    deadline = time.monotonic() + 60
    while True:  # the port never refuses: the other worker takes every new connection
        r = httpx.get(f"{served.base}{API}/health/live", timeout=30)
        answered.append(r.status_code)
        now = [pid for pid, role in served.children().items() if role == "worker"]
        if len(now) == 2 and victim not in now:
            break
        assert time.monotonic() < deadline, f"no new worker\n{served.tail()}"
        time.sleep(0.05)
    assert set(answered) == {200}
    for worker in ("0", "1"):
        served.client_on(worker, timeout=60).close()


def test_what_a_killed_worker_counted_stays_in_the_sums(served):
    _scrape(served, "0")  # each scrape publishes its worker's figures before it reads
    before = _scrape(served, "1").get(ME, 0.0)
    _ask_me(served, {"0": 3, "1": 4})
    _scrape(served, "0")
    assert _scrape(served, "1")[ME] == before + 7
    victim = next(pid for pid, role in served.children().items() if role == "worker")
    os.kill(victim, signal.SIGKILL)
    seen = []
    deadline = time.monotonic() + 60
    while True:  # scrapes meanwhile, the replacement's too, count what the dead one served
        scraped = parse_metrics(httpx.get(f"{served.base}/metrics", timeout=30).text)
        seen.append(scraped[ME])
        workers = [pid for pid, role in served.children().items() if role == "worker"]
        if victim not in workers and scraped["freeagentics_metrics_workers_reporting"] == 2:
            break
        assert time.monotonic() < deadline, f"no replacement reporting\n{served.tail()}"
        time.sleep(0.1)
    assert set(seen) == {before + 7}
    for worker in ("0", "1"):
        scraped = _scrape(served, worker)
        assert scraped[ME] == before + 7
        assert processes(scraped) == {"api-0", "api-1", "host"}


def test_sigterm_stops_the_workers_then_the_host_and_leaves_nothing(served):
    family = served.children()
    assert sorted(family.values()) == ["host", "worker", "worker"]
    with contextlib.closing(served.client_on("1")) as rest:
        sim = rest.post("/simulations", json={"name": "last", "scenario": SMALL}).json()["id"]
        assert rest.post(f"/simulations/{sim}/start").status_code == 200
    gone_at: dict[int, float] = {}
    served.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + GONE_WITHIN_S
    while len(gone_at) < len(family):
        for pid in family:
            if pid not in gone_at and not _alive(pid):
                gone_at[pid] = time.monotonic()
        assert time.monotonic() < deadline, f"still running: {set(family) - set(gone_at)}"
        time.sleep(0.01)
    assert served.proc.wait(GONE_WITHIN_S) == 0, served.tail()
    host_gone = next(t for pid, t in gone_at.items() if family[pid] == "host")
    assert all(t <= host_gone for pid, t in gone_at.items() if family[pid] == "worker")


def test_a_signal_while_starting_stops_everything_at_once(tmp_path, pg_database, redis_url):
    served = _start(tmp_path, pg_database, redis_url)
    try:
        deadline = time.monotonic() + 60
        while sorted(served.children().values()) != ["host", "worker", "worker"]:
            assert time.monotonic() < deadline and served.proc.poll() is None, served.tail()
            time.sleep(0.02)
        family = served.children()
        served.proc.send_signal(signal.SIGINT)  # a Ctrl-C while the host is opening
        assert served.proc.wait(GRACE_S) == 0, served.tail()  # not a worker's grace period
        assert not any(_alive(pid) for pid in family)
    finally:
        if served.proc.poll() is None:
            served.proc.kill()
            served.proc.wait()


def test_the_end_of_its_lifeline_stops_the_server_in_order(tmp_path, pg_database, redis_url):
    """``serve --workers 2 --lifeline``: when its stdin ends (the program that started it
    is gone), the supervisor stops the workers, then the host, as on SIGTERM."""
    with serving(tmp_path, pg_database, redis_url, lifeline=True, RESTORE_ON_START="false") as s:
        family = s.children()
        assert sorted(family.values()) == ["host", "worker", "worker"]
        s.proc.stdin.close()
        assert s.proc.wait(GONE_WITHIN_S) == 0, s.tail()  # in order: not cut short (1)
        deadline = time.monotonic() + GONE_WITHIN_S
        while any(_alive(pid) for pid in family):
            assert time.monotonic() < deadline, [p for p in family if _alive(p)]
            time.sleep(0.05)


def test_a_killed_supervisor_leaves_no_orphans(tmp_path, pg_database, redis_url):
    with serving(tmp_path, pg_database, redis_url, RESTORE_ON_START="false") as server:
        family = server.children()
        assert sorted(family.values()) == ["host", "worker", "worker"]
        server.proc.kill()
        server.proc.wait(30)
        deadline = time.monotonic() + GONE_WITHIN_S
        while any(_alive(pid) for pid in family):
            assert time.monotonic() < deadline, [p for p in family if _alive(p)]
            time.sleep(0.05)


def _alive(pid: int) -> bool:
    """Running, and neither a zombie nor a process that took the number since."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
