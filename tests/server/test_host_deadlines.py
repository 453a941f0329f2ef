"""A host whose calls hang cannot stall the API: each request waits for the host no longer
than ``host_call_timeout_seconds``, then answers 504 ``host_timeout`` (a WebSocket ack
``host_timeout``) naming the method, while liveness, the other routes and the other
WebSocket messages are answered; commands past the process's bound are ``busy``.

The host here is a real host process with the debugging hook that makes some of its
methods hang (``FREEAGENTICS_DEBUG_HOST_STALL``), behind a real uvicorn server.
"""

from __future__ import annotations

import asyncio
import os
import threading

import httpx
import orjson
import pytest
import websockets
from server.conftest import SMALL, serving
from server.conftest import until as _until

from freeagentics.hosts import LocalHostProcess
from freeagentics.server import HOST_PROGRAM
from freeagentics.server.app import create_app
from freeagentics.server.debug import STALL_VARIABLE, host_stalls
from freeagentics.server.settings import Settings

API = "/api/v1"
#: the deadline of every host call here: long beside a request on a busy machine, short
#: enough for the tests
DEADLINE = 5.0
#: what hangs in the host: world reads for two deadlines (the host's threads come back),
#: steps for longer than any test
STALLS = f"world:{2 * DEADLINE:g},step:300"
THREADS, IN_FLIGHT = 2, 3  # the WebSocket command pool, small enough to fill


@pytest.fixture(scope="module")
def stalled(tmp_path_factory):
    """``(app, port)``: an app served by uvicorn whose host process hangs on ``STALLS``."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path_factory.mktemp('deadlines') / 'host.db'}",
        demo=False,
        simulation_host="process",
        rate_limit_per_minute=1_000_000,
        host_call_timeout_seconds=DEADLINE,
        ws_command_threads=THREADS,
        ws_max_commands_in_flight=IN_FLIGHT,
    )
    host = LocalHostProcess(
        HOST_PROGRAM,
        None,
        env={**os.environ, STALL_VARIABLE: STALLS},
        call_timeout_s=settings.host_call_timeout_seconds,
    )
    app = create_app(settings, host=host, own_host=True)
    with serving(app) as port:
        yield app, port


@pytest.fixture(scope="module")
def sim_id(stalled) -> int:
    _, port = stalled
    made = httpx.post(f"http://127.0.0.1:{port}{API}/simulations", json={"scenario": SMALL})
    assert made.status_code == 201, made.text
    return made.json()["id"]


def _timed_out(answer: httpx.Response, method: str) -> None:
    """``answer`` is the 504 of a ``method`` call that missed the deadline."""
    assert answer.status_code == 504, answer.text
    body = answer.json()
    assert body["type"] == "host_timeout"
    assert f"did not answer {method} within {DEADLINE:g} s" in body["detail"]
    assert "may still complete on the host" in body["detail"]
    assert body["errors"][0]["method"] == method
    assert body["errors"][0]["timeout_s"] == DEADLINE


@pytest.mark.slow
def test_a_hung_host_call_is_a_504_naming_it_while_other_routes_answer(stalled, sim_id):
    app, port = stalled
    base = f"http://127.0.0.1:{port}"
    answers: dict[str, httpx.Response] = {}

    def read_world():
        answers["world"] = httpx.get(f"{base}{API}/simulations/{sim_id}/world", timeout=120)

    reader = threading.Thread(target=read_world)
    reader.start()
    _until(lambda: app.state.host.in_flight >= 1, what="the world call to be waiting")
    live = httpx.get(f"{base}{API}/health/live", timeout=60)
    summary = httpx.get(f"{base}{API}/simulations/{sim_id}", timeout=60)
    answered_while_it_waited = reader.is_alive()
    reader.join(120)
    assert live.status_code == 200 and summary.status_code == 200, summary.text
    assert summary.json()["id"] == sim_id
    assert answered_while_it_waited  # neither waited for the hung call
    _timed_out(answers["world"], "world")
    assert app.state.host.in_flight == 0  # the timed-out call left nothing behind
    assert httpx.get(f"{base}{API}/health/ready", timeout=60).status_code == 200


async def _command(ws, id_, action="step", sim_id=0, **args) -> None:
    message = {"type": "command", "id": id_, "action": action, "sim_id": sim_id, "args": args}
    await ws.send(orjson.dumps(message).decode())


async def _next(ws, timeout: float = 4 * DEADLINE + 60) -> dict:
    return orjson.loads(await asyncio.wait_for(ws.recv(), timeout))


@pytest.mark.slow
def test_a_hung_websocket_command_gets_a_timeout_ack_and_its_connection_is_served(stalled, sim_id):
    _, port = stalled

    async def scenario():
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws", open_timeout=30) as ws:
            await _command(ws, "slow", sim_id=sim_id, n=5)
            await ws.send(orjson.dumps({"type": "ping", "id": "p"}).decode())
            sub = {"type": "subscribe", "id": "s", "topic": "world", "sim_id": sim_id}
            await ws.send(orjson.dumps(sub).decode())
            return [await _next(ws) for _ in range(3)]

    pong, subscribed, ack = asyncio.run(scenario())
    assert pong["type"] == "pong" and pong["id"] == "p"  # answered before the command
    assert subscribed["id"] == "s" and subscribed["ok"] is True  # asks the host, too
    assert ack["id"] == "slow" and ack["ok"] is False and ack["code"] == "host_timeout"
    assert f"did not answer step within {DEADLINE:g} s" in ack["error"]
    assert "may still complete" in ack["error"]


@pytest.mark.slow
def test_a_flood_of_commands_is_refused_busy_and_every_client_stays_served(stalled, sim_id):
    app, port = stalled
    url = f"ws://127.0.0.1:{port}/ws"

    async def scenario():
        async with (
            websockets.connect(url, open_timeout=30) as flooder,
            websockets.connect(url, open_timeout=30) as other,
        ):
            for i in range(IN_FLIGHT + 1):  # within the connection's own bound (4)
                await _command(flooder, i, sim_id=sim_id)
            refused = await _next(flooder)  # at once: the others hold every slot
            await _command(other, "o1", sim_id=sim_id)
            other_refused = await _next(other)
            await other.send(orjson.dumps({"type": "ping", "id": "p"}).decode())
            pong = await _next(other)
            held = app.state.commands.in_flight
            timed_out = [await _next(flooder) for _ in range(IN_FLIGHT)]
            _until(lambda: app.state.commands.in_flight == 0, what="the pool to drain")
            await _command(other, "o2", action="pause", sim_id=sim_id)
            after = await _next(other)
            return refused, other_refused, pong, held, timed_out, after

    refused, other_refused, pong, held, timed_out, after = asyncio.run(scenario())
    for busy, id_ in ((refused, IN_FLIGHT), (other_refused, "o1")):
        assert busy["id"] == id_ and busy["ok"] is False and busy["code"] == "busy", busy
        assert "ws_max_commands_in_flight" in busy["error"] and busy["retry_after"] > 0
    assert pong["type"] == "pong" and held == IN_FLIGHT
    assert sorted(ack["id"] for ack in timed_out) == list(range(IN_FLIGHT))
    assert {ack["code"] for ack in timed_out} == {"host_timeout"}
    # slots free again: the next command runs (and is answered by the host, not "busy")
    assert after["id"] == "o2" and after.get("code") != "busy", after


@pytest.mark.slow
def test_more_hung_requests_than_api_threads_all_end_and_the_routes_come_back(stalled, sim_id):
    """Run last: it leaves the host's call threads busy for a while."""
    app, port = stalled
    base = f"http://127.0.0.1:{port}"
    flood = 48  # past the 40 threads the API runs plain routes on
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def read_world():
        answer = httpx.get(f"{base}{API}/simulations/{sim_id}/world", timeout=300)
        with lock:
            answers.append(answer)

    readers = [threading.Thread(target=read_world) for _ in range(flood)]
    for reader in readers:
        reader.start()
    _until(lambda: app.state.host.in_flight >= 8, what="world calls to be waiting")
    assert httpx.get(f"{base}{API}/health/live", timeout=60).status_code == 200
    for reader in readers:
        reader.join(300)
    assert len(answers) == flood  # none waits forever
    for answer in answers:
        _timed_out(answer, "world")
    assert app.state.host.in_flight == 0
    # the host's own threads are still busy with the hung reads a while; then it answers
    url = f"{base}{API}/simulations/{sim_id}"
    again = _until(lambda: (r := httpx.get(url, timeout=60)).status_code == 200 and r, 120)
    assert again.json()["id"] == sim_id


# ---------------------------------------------------------------------- settings and hook
def test_the_deadline_setting_reaches_every_transport_made_from_settings():
    process = create_app(Settings(simulation_host="process", host_call_timeout_seconds=7))
    assert process.state.host.call_timeout_s == 7.0
    pytest.importorskip("ray")
    from freeagentics.server.rayhost import make_ray_hosts

    ray = {
        "ray_address": "auto",
        "database_url": "postgresql+psycopg://u@db/x",
        "redis_url": "redis://r:6379/0",
        "host_call_timeout_seconds": 7,
    }
    assert make_ray_hosts(Settings(**ray)).call_timeout_s == 7.0
    assert make_ray_hosts(Settings(**ray, ray_call_timeout_seconds=90)).call_timeout_s == 90.0


@pytest.mark.parametrize("seconds", [0, 0.01, 3_601])
def test_the_deadline_setting_is_bounded(seconds):
    with pytest.raises(ValueError, match="host_call_timeout_seconds"):
        Settings(host_call_timeout_seconds=seconds)


def test_the_stall_hook_is_off_unless_set_and_refuses_what_it_cannot_read():
    assert host_stalls({}) == {}
    assert host_stalls({STALL_VARIABLE: "world:1.5, step:0,host.metrics:2"}) == {
        "world": 1.5,
        "step": 0.0,
        "host.metrics": 2.0,
    }
    for bad in ("world", "world:soon", ":3", "world:-1"):
        with pytest.raises(ValueError, match=STALL_VARIABLE):
            host_stalls({STALL_VARIABLE: bad})
