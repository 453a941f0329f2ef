"""Simulations on a real two-node Ray cluster: the routes and the WebSocket through the
actors, placement on both nodes, and failover when an actor's process or a whole node
dies (the simulation resumes on the other node within 10 s from its checkpoint).

Needs the session's cluster (``ray_cluster``), PostgreSQL (a schema of this module's
own) and Redis; skipped without them unless ``FREEAGENTICS_REQUIRE_SERVICES=1``.
The actors are detached (they outlive the app): every one of this module's namespace
is ended at the end, and its Redis keys deleted.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Iterator

import httpx
import orjson
import pytest
import redis
import sqlalchemy as sa
import websockets
from server.conftest import SMALL, serving, until

from freeagentics.hosts.ray_hosts import ACTOR_PREFIX
from freeagentics.loadtest.server import parse_metrics
from freeagentics.server.app import create_app
from freeagentics.server.settings import Settings

API = "/api/v1"
EVERY = 10  # ticks between periodic checkpoints
RATE = 50.0  # ticks per second of a running simulation
POLL = 0.1  # seconds between two looks at a simulation (each one a call to its actor)
PG_URL = os.environ.get(
    "FREEAGENTICS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE = os.environ.get("FREEAGENTICS_REQUIRE_SERVICES") == "1"


@pytest.fixture(scope="module")
def pg_schema_url() -> Iterator[str]:
    """A database URL whose connections work in a fresh schema, dropped at the end."""
    admin = sa.create_engine(PG_URL)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if REQUIRE:
            pytest.fail(f"PostgreSQL at {PG_URL} is required but unreachable: {exc}")
        pytest.skip(f"PostgreSQL at {PG_URL} unreachable")
    schema = f"fa_ray_{uuid.uuid4().hex[:10]}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.dispose()


def _actors(namespace: str) -> list[str]:
    import ray

    return [
        a["name"]
        for a in ray.util.list_named_actors(all_namespaces=True)
        if a["namespace"] == namespace
    ]


@pytest.fixture(scope="module")
def deployment(ray_cluster, pg_schema_url, redis_url):
    """An app whose simulations run on the cluster, served by uvicorn: ``(base URL, port,
    app)``; at the end every actor of its namespace is ended and its Redis keys go."""
    namespace = f"fa-test-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        database_url=pg_schema_url,
        redis_url=redis_url,
        ray_address=ray_cluster.address,
        ray_namespace=namespace,
        ray_actor_cpus=0.01,  # the test nodes have one CPU each; Ray spreads what needs some
        demo=False,
        tick_rate_hz=RATE,
        frame_rate_hz=RATE,
        checkpoint_every_ticks=EVERY,
        rate_limit_per_minute=1_000_000,
    )
    app = create_app(settings)
    try:
        with serving(app) as port:
            yield f"http://127.0.0.1:{port}{API}", port, app
    finally:
        import ray

        for name in _actors(namespace):
            ray.kill(ray.get_actor(name, namespace=namespace), no_restart=True)
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(f"freeagentics:{namespace}:*"))
        if keys:
            client.delete(*keys)
        client.close()
        deadline = time.monotonic() + 30
        while _actors(namespace) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _actors(namespace), "detached actors outlived the test"


def _create(base: str, **body) -> dict:
    r = httpx.post(f"{base}/simulations", json={"scenario": SMALL, **body}, timeout=120)
    assert r.status_code == 201, r.text
    return r.json()


def _node(cluster, app, sim_id: int) -> str:
    """The node (``"a"`` or ``"b"``) whose process hosts ``sim_id`` now."""
    node_id = app.state.host.where(sim_id)["node_id"]
    return next(n for n in cluster.names if cluster.node_id(n) == node_id)


def test_the_routes_and_the_websocket_reach_the_simulations_in_their_actors(deployment):
    base, port, app = deployment
    sim = _create(base, name="routes")
    url = f"{base}/simulations/{sim['id']}"
    assert (sim["status"], sim["tick"], sim["agents"], sim["world"]) == ("created", 0, 8, [16, 16])
    assert f"{ACTOR_PREFIX}{sim['id']}" in _actors(app.state.settings.ray_namespace)

    stepped = httpx.post(f"{url}/step", json={"n": 3}, timeout=60).json()
    assert stepped["tick"] == 3
    agents = httpx.get(f"{url}/agents", params={"limit": 5}).json()
    assert agents["total"] == 8 and len(agents["items"]) == 5
    one = agents["items"][0]["id"]
    detail = httpx.get(f"{url}/agents/{one}", params={"history": 2}).json()
    assert detail["id"] == one and len(detail["history"]) <= 2
    world = httpx.get(f"{url}/world").json()
    assert (world["height"], world["width"]) == (16, 16)
    formed = httpx.post(f"{url}/coalitions/formation").json()
    assert formed["tick"] == 4
    for coalition in httpx.get(f"{url}/coalitions").json():
        assert httpx.get(f"{url}/coalitions/{coalition['id']}").status_code == 200
    stats = httpx.get(f"{url}/knowledge/stats").json()
    assert stats["nodes"] > 0 and stats["tick"] == 4
    added = httpx.post(f"{url}/agents", json={"kind": "explorer", "count": 2}).json()
    assert len(added["ids"]) == 2
    assert httpx.get(url).json()["agents"] == 10

    saved = httpx.post(f"{url}/checkpoints").json()
    assert saved["tick"] == 4
    httpx.post(f"{url}/step", json={"n": 5}).raise_for_status()
    back = httpx.post(f"{url}/restore", json={"checkpoint_id": saved["id"]}).json()
    assert back["tick"] == 4 and back["agents"] == 10
    assert [c["tick"] for c in httpx.get(f"{url}/checkpoints").json()][-1] == 4

    listed = httpx.get(f"{base}/simulations").json()
    assert [s["id"] for s in listed] == [sim["id"]]
    assert httpx.get(f"{base}/health/ready").json()["simulations"] == 1
    metrics = parse_metrics(httpx.get(f"{base[: -len(API)]}/metrics").text)
    assert metrics['freeagentics_agents{kind="explorer"}'] == 6
    assert metrics["freeagentics_tick_duration_seconds_count"] >= 9  # ticks of the actor

    # the service's own errors, as in one process
    assert httpx.post(f"{url}/pause").status_code == 409  # not running
    assert httpx.get(f"{base}/simulations/999999").status_code == 404
    assert httpx.get(f"{url}/agents/999999").status_code == 404
    too_many = httpx.post(f"{url}/step", json={"n": 1001})
    assert too_many.status_code == 422

    ticks, steps = asyncio.run(_frames_of_steps(port, sim["id"]))
    assert 5 <= min(ticks) and max(ticks) <= 4 + steps  # frames of the ticks just run

    assert httpx.delete(url, timeout=60).status_code == 204
    assert httpx.get(url).status_code == 404
    assert f"{ACTOR_PREFIX}{sim['id']}" not in _actors(app.state.settings.ray_namespace)


async def _frames_of_steps(port: int, sim_id: int) -> tuple[list[int], int]:
    """Subscribe to ``sim_id``'s world frames (they come from its actor through Redis)
    and step it one tick at a time by WebSocket commands until frames arrive (the actor
    hears of the subscription through Redis, not with the command: the first steps may
    run before it does); returns the frames' ticks and the steps made. A subscription to
    an unknown simulation is refused."""
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws", open_timeout=30) as ws:
        sub = {"type": "subscribe", "id": 1, "topic": "world", "sim_id": sim_id}
        await ws.send(orjson.dumps(sub).decode())
        assert orjson.loads(await asyncio.wait_for(ws.recv(), 30))["ok"] is True
        ticks: list[int] = []
        steps = 0
        while not ticks:
            assert steps < 20, "no frame after 20 steps"
            steps += 1
            cmd = {"type": "command", "id": 1 + steps, "action": "step", "sim_id": sim_id}
            await ws.send(orjson.dumps({**cmd, "args": {"n": 1}}).decode())
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                try:
                    message = orjson.loads(await asyncio.wait_for(ws.recv(), 0.2))
                except TimeoutError:
                    continue
                if message.get("type") == "ack":
                    assert message["ok"] is True, message
                elif message.get("topic") == "world":
                    ticks.append(message["tick"])
        unknown = {"type": "subscribe", "id": 999, "topic": "world", "sim_id": 999999}
        await ws.send(orjson.dumps(unknown).decode())
        refused: dict = {}
        while refused.get("id") != 999:
            refused = orjson.loads(await asyncio.wait_for(ws.recv(), 30))
        assert refused["ok"] is False and refused["code"] == "unknown_id"
        return ticks, steps


def test_a_refused_creation_leaves_no_actor_and_no_row(deployment, pg_schema_url):
    base, _, app = deployment
    huge = {**SMALL, "world": {**SMALL["world"], "height": 3000, "width": 3000}}
    refused = httpx.post(f"{base}/simulations", json={"scenario": huge}, timeout=120)
    # refused by the service in the actor, as it would be in one process
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"] == "invalid_value"
    assert "more than this server allows" in refused.json()["detail"]
    assert _actors(app.state.settings.ray_namespace) == []
    engine = sa.create_engine(pg_schema_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM simulations").scalar() == 0
    engine.dispose()


@pytest.mark.slow
def test_a_live_simulation_without_an_actor_is_a_503_until_a_start_restores_it(deployment):
    import ray

    base, _, app = deployment
    hosts, namespace = app.state.host, app.state.settings.ray_namespace
    sim = _create(base, name="orphan")["id"]
    url = f"{base}/simulations/{sim}"
    httpx.post(f"{url}/step", json={"n": EVERY + 2}, timeout=60).raise_for_status()
    # its actor gone for good (as after more deaths than max_restarts, or a new cluster)
    ray.kill(ray.get_actor(f"{ACTOR_PREFIX}{sim}", namespace=namespace), no_restart=True)
    until(lambda: f"{ACTOR_PREFIX}{sim}" not in _actors(namespace), 30, "the actor to go")
    orphan = httpx.get(url)
    assert orphan.status_code == 503 and "has no host" in orphan.json()["detail"]
    # what an API process does when it starts: an actor for every live simulation without
    assert [r["id"] for r in hosts.call("recover", (), {})] == [sim]

    def restored() -> dict | None:
        answer = httpx.get(url, timeout=60)  # 503 while it restores, once its process is up
        assert answer.status_code in (200, 503), answer.text
        return answer.json() if answer.status_code == 200 else None

    back = until(restored, 60, "the restored simulation", interval=POLL)
    assert back["tick"] == EVERY and back["status"] == "created"  # its periodic checkpoint
    assert 0 <= back["ticks_lost"] <= 2 and back["failovers"] is None  # no failover
    assert hosts.call("recover", (), {}) == []  # it has an actor now
    # the server's own simulations (the demo) are made once, however many processes start
    demo = hosts.create(SMALL, name="demo", unless_named=True)
    assert hosts.create(SMALL, name="demo", unless_named=True) == demo
    for sim_id in (sim, demo):
        assert httpx.delete(f"{base}/simulations/{sim_id}", timeout=60).status_code == 204


@pytest.mark.slow
def test_a_dead_node_s_simulation_resumes_on_the_other_node(deployment, ray_cluster):
    base, _, app = deployment
    sims = [_create(base, name=f"spread-{i}", start=True)["id"] for i in range(2)]
    placed = {sim: _node(ray_cluster, app, sim) for sim in sims}
    assert set(placed.values()) == {"a", "b"}, placed  # spread over both nodes
    victim = next(sim for sim, node in placed.items() if node == "b")
    survivor = next(sim for sim, node in placed.items() if node == "a")
    url = f"{base}/simulations/{victim}"
    until(lambda: httpx.get(url).json()["tick"] >= 2 * EVERY + 3, what="ticks", interval=POLL)
    try:
        outcome = _kill_and_resume(url, lambda: ray_cluster.kill_node("b", wait=False))
        assert _node(ray_cluster, app, victim) == "a"
        assert httpx.get(f"{base}/simulations/{survivor}").json()["failovers"] is None
    finally:
        ray_cluster.start_node("b")
    _check_failover(app, victim, base, outcome, failovers=1)
    for sim in sims:
        assert httpx.delete(f"{base}/simulations/{sim}", timeout=60).status_code == 204


@pytest.mark.slow
def test_a_killed_actor_process_resumes_with_its_frames(deployment):
    base, port, app = deployment
    sim = _create(base, name="killed", start=True)["id"]
    url = f"{base}/simulations/{sim}"
    until(lambda: httpx.get(url).json()["tick"] >= 2 * EVERY + 3, what="ticks", interval=POLL)
    pid = app.state.host.where(sim)["pid"]
    outcome = []

    async def frames_around_the_kill() -> list[int]:
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws", open_timeout=30) as ws:
            sub = {"type": "subscribe", "id": 1, "topic": "world", "sim_id": sim}
            await ws.send(orjson.dumps(sub).decode())
            assert orjson.loads(await asyncio.wait_for(ws.recv(), 30))["ok"] is True
            await asyncio.wait_for(ws.recv(), 30)  # a frame before
            kill = lambda: os.kill(pid, signal.SIGKILL)  # noqa: E731
            outcome.extend(await asyncio.to_thread(_kill_and_resume, url, kill))
            ticks = []
            while len(ticks) < 3:
                message = orjson.loads(await asyncio.wait_for(ws.recv(), 30))
                if message.get("topic") == "world" and message["tick"] > outcome[1]:
                    ticks.append(message["tick"])
            return ticks

    ticks = asyncio.run(frames_around_the_kill())
    assert app.state.host.where(sim)["pid"] != pid
    assert len(ticks) == 3  # the frames of the resumed simulation reach the old socket
    # the first death counted 1 failover in the node test when it ran before this one
    _check_failover(app, sim, base, outcome, failovers=1, total=None)
    assert httpx.delete(url, timeout=60).status_code == 204


def _kill_and_resume(url: str, kill) -> tuple[int, int, float]:
    """Kill the simulation's host with ``kill()``; return the tick seen just before, the
    first tick seen after it resumed, the seconds from the kill until it stepped again
    and when the kill was (``time.time()``). A call during the restart is a prompt 503."""
    checkpoints = httpx.get(f"{url}/checkpoints").json()
    seen = httpx.get(url).json()["tick"]
    began, killed_at = time.monotonic(), time.time()
    kill()
    missed = lambda: httpx.get(url, timeout=30).status_code == 503  # noqa: E731
    until(missed, 30, "the host to be missed", interval=POLL)
    asked = time.monotonic()
    during = httpx.get(url, timeout=30)
    assert time.monotonic() - asked < 5.0  # not waiting for the restart
    if during.status_code == 503:  # else: already back
        assert during.json()["type"] == "host_unavailable", during.text
        assert during.headers["retry-after"]

    def resumed() -> int | None:
        r = httpx.get(url, timeout=30)
        return r.json()["tick"] if r.status_code == 200 and r.json()["failovers"] else None

    first = until(resumed, 60, "the simulation to resume", interval=POLL)
    until(lambda: httpx.get(url).json()["tick"] > first, 30, "a tick after it", interval=POLL)
    elapsed = time.monotonic() - began
    assert first >= max(c["tick"] for c in checkpoints)  # not further back than seen saved
    return seen, first, elapsed, killed_at


def _check_failover(app, sim, base, outcome, *, failovers, total=1) -> None:
    seen, resumed, _elapsed, killed_at = outcome
    url = f"{base}/simulations/{sim}"
    back = httpx.get(url).json()
    assert back["status"] == "running" and back["failovers"] == failovers
    assert 0 <= back["ticks_lost"] <= EVERY  # at most one checkpoint interval
    assert seen - EVERY <= resumed  # it resumed from the checkpoint before the death
    at = app.state.host.where(sim)
    timeline = (
        f"the new process had imported the host {at['imported_at'] - killed_at:.1f} s after "
        f"the death (negative: before it), began {at['started_at'] - killed_at:.1f} s after "
        f"it and had restored the simulation {at['opened_at'] - killed_at:.1f} s after it; "
        f"the machine's load average is {os.getloadavg()[0]:.1f}"
    )
    # a new actor, begun after the death in a process that had imported the host before
    # (the nodes preload it), restored the simulation before it stepped; how fast (the
    # 10 s target) is B8 (c)'s measure, not a timed test's
    assert at["imported_at"] < at["started_at"], timeline
    assert killed_at < at["started_at"] <= at["opened_at"], timeline
    metrics = parse_metrics(httpx.get(f"{base[: -len(API)]}/metrics").text)
    if total is not None:
        assert metrics["freeagentics_simulation_failovers_total"] == total
        assert metrics["freeagentics_simulation_ticks_lost_total"] == back["ticks_lost"]
    assert metrics["freeagentics_simulation_failovers_total"] >= failovers
    assert metrics["freeagentics_host_up"] == 1.0
