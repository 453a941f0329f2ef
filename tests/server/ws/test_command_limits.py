"""WebSocket commands run on threads of their own, a bounded number at once: one more is
answered ``busy`` at once (with ``retry_after``), and the connection and other clients
are served meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from server.conftest import until as _until
from server.ws.conftest import FakeService

from freeagentics.hosts import HostTimeoutError, HostUnavailableError
from freeagentics.server.settings import Settings
from freeagentics.server.ws import install_websockets
from freeagentics.server.ws.command_pool import BUSY_RETRY_AFTER_S, CommandPool
from freeagentics.server.ws.endpoint import MAX_COMMANDS_IN_FLIGHT


class GatedService(FakeService):
    """A fake service whose steps wait until :attr:`gate` is set."""

    def __init__(self):
        super().__init__()
        self.gate = threading.Event()
        self.threads: list[str] = []

    def step(self, sim_id, n):
        self.threads.append(threading.current_thread().name)
        assert self.gate.wait(60)
        return super().step(sim_id, n)


def _app(service, **settings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield

    app = FastAPI(lifespan=lifespan)
    app.state.settings, app.state.service = Settings(frame_rate_hz=1000, **settings), service
    install_websockets(app)
    return app


def _step(id_, n=1) -> dict:
    return {"type": "command", "id": id_, "action": "step", "sim_id": 1, "args": {"n": n}}


# ---------------------------------------------------------------------- the pool itself
def test_the_pool_refuses_past_its_bound_and_frees_slots_when_commands_end():
    async def scenario():
        pool = CommandPool(threads=1, max_in_flight=2)
        gate = threading.Event()
        first = pool.submit(gate.wait, 30)
        second = pool.submit(gate.wait, 30)  # waits for the one thread
        assert first is not None and second is not None
        assert pool.submit(gate.wait, 30) is None  # refused, not queued
        assert (pool.in_flight, pool.refused) == (2, 1)
        gate.set()
        assert await first is True and await second is True
        await asyncio.sleep(0)
        assert pool.in_flight == 0
        third = pool.submit(threading.current_thread)
        assert third is not None and (await third).name.startswith("ws-command")
        pool.close()

    asyncio.run(scenario())


def test_a_command_not_begun_is_cancelled_with_its_caller_and_frees_its_slot():
    async def scenario():
        pool = CommandPool(threads=1, max_in_flight=2)
        gate, ran = threading.Event(), []
        running = pool.submit(gate.wait, 30)
        queued = pool.submit(ran.append, "queued")
        queued.cancel()  # its client left: the command never runs
        await asyncio.sleep(0.05)
        assert pool.in_flight == 1  # the running one keeps its slot until it returns
        gate.set()
        await running
        await asyncio.sleep(0.05)
        assert pool.in_flight == 0 and ran == []
        pool.close()

    asyncio.run(scenario())


def test_commands_do_not_queue_behind_the_loops_default_executor():
    async def scenario():
        loop = asyncio.get_running_loop()
        stuck = threading.Event()
        hogs = [loop.run_in_executor(None, stuck.wait, 30) for _ in range(64)]
        pool = CommandPool(threads=2, max_in_flight=4)
        try:
            done = pool.submit(lambda: "ran")
            assert await asyncio.wait_for(done, 30) == "ran"
        finally:
            stuck.set()
            await asyncio.gather(*hogs)
            pool.close()

    asyncio.run(scenario())


# ---------------------------------------------------------------------- through /ws
def test_a_flood_of_commands_gets_busy_acks_while_every_client_is_served():
    service = GatedService()
    app = _app(service, ws_command_threads=1, ws_max_commands_in_flight=2)
    with TestClient(app) as client:
        with client.websocket_connect("/ws") as a, client.websocket_connect("/ws") as b:
            for i in range(3):
                a.send_json(_step(f"a{i}"))
            busy = a.receive_json()  # the third, at once: the first two are held
            assert busy["id"] == "a2" and busy["ok"] is False and busy["code"] == "busy"
            assert "ws_max_commands_in_flight" in busy["error"]
            assert busy["retry_after"] == BUSY_RETRY_AFTER_S
            # another client: its command is refused too, everything else is served
            b.send_json(_step("b0"))
            assert b.receive_json()["code"] == "busy"
            b.send_json({"type": "ping", "id": "p"})
            assert b.receive_json()["type"] == "pong"
            b.send_json({"type": "subscribe", "id": "s", "topic": "world", "sim_id": 1})
            assert b.receive_json() == {
                "type": "ack",
                "id": "s",
                "ok": True,
                "result": {"topic": "world/1"},
            }
            a.send_json({"type": "ping", "id": "pa"})
            assert a.receive_json()["type"] == "pong"  # before the held commands' acks
            assert app.state.commands.in_flight == 2 and app.state.commands.refused == 2
            service.gate.set()
            acks = sorted((a.receive_json(), a.receive_json()), key=lambda ack: ack["id"])
            assert [(ack["id"], ack["ok"]) for ack in acks] == [("a0", True), ("a1", True)]
            _until(lambda: app.state.commands.in_flight == 0)
            b.send_json({"type": "command", "id": "b1", "action": "start", "sim_id": 1})
            assert b.receive_json() == {
                "type": "ack",
                "id": "b1",
                "ok": True,
                "result": {"id": 1, "status": "running"},
            }
    assert service.commands.count(("step", 1, 1)) == 2  # the refused ones never ran
    assert all(name.startswith("ws-command") for name in service.threads)


def test_one_connection_holds_a_few_commands_at_most():
    service = GatedService()
    with TestClient(_app(service)) as client, client.websocket_connect("/ws") as ws:
        for i in range(MAX_COMMANDS_IN_FLIGHT + 1):
            ws.send_json(_step(i))
        busy = ws.receive_json()
        assert busy["id"] == MAX_COMMANDS_IN_FLIGHT and busy["code"] == "busy"
        assert "this connection" in busy["error"] and busy["retry_after"] == BUSY_RETRY_AFTER_S
        service.gate.set()
        acks = [ws.receive_json() for _ in range(MAX_COMMANDS_IN_FLIGHT)]
        assert sorted(ack["id"] for ack in acks if ack["ok"]) == list(range(4))


def test_a_client_that_leaves_frees_its_waiting_commands_slots():
    service = GatedService()
    app = _app(service, ws_command_threads=1, ws_max_commands_in_flight=2)
    with TestClient(app) as client:
        with client.websocket_connect("/ws") as ws:
            ws.send_json(_step("running"))
            ws.send_json(_step("waiting"))
            _until(lambda: len(service.threads) == 1)
            ws.send_json({"type": "ping"})
            assert ws.receive_json()["type"] == "pong"  # both were admitted by now
        pool = app.state.commands
        _until(lambda: pool.in_flight == 1)  # the waiting one was cancelled with its client
        service.gate.set()
        _until(lambda: pool.in_flight == 0)
    assert service.commands == [("step", 1, 1)]


@pytest.mark.parametrize("field", ["ws_command_threads", "ws_max_commands_in_flight"])
def test_the_pool_settings_are_bounded(field):
    with pytest.raises(ValueError, match=field):
        Settings(**{field: 0})


class LateHost(FakeService):
    """A fake service behind a host that misses its deadlines (steps, lookups) or is
    gone (starts)."""

    def step(self, sim_id, n):
        raise HostTimeoutError("step", 2.0)

    def get(self, sim_id):  # what the hub asks before following a host's topic
        raise HostTimeoutError("get", 2.0)

    def start(self, sim_id):
        raise HostUnavailableError("the simulation host is restarting")


class _HostStub:
    """Enough of a host process for the hub's relay: notices go nowhere."""

    on_frame = on_connected = None

    def notify(self, op, key):
        return True


def test_a_late_host_is_a_host_timeout_ack_and_a_gone_one_unavailable():
    app = _app(LateHost())
    app.state.host = _HostStub()  # the hub asks the host whether a topic's simulation exists
    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        ws.send_json(_step("late"))
        late = ws.receive_json()
        ws.send_json({"type": "subscribe", "id": "sub", "topic": "world", "sim_id": 1})
        unverified = ws.receive_json()
        ws.send_json({"type": "command", "id": "gone", "action": "start", "sim_id": 1})
        gone = ws.receive_json()
    assert (late["id"], late["code"]) == ("late", "host_timeout")
    assert "did not answer step within 2 s" in late["error"]
    assert (unverified["id"], unverified["code"]) == ("sub", "host_timeout")
    assert "get within 2 s" in unverified["error"]
    assert (gone["id"], gone["code"]) == ("gone", "unavailable")


def test_a_command_after_the_pool_closed_is_refused_not_lost():
    app = _app(FakeService())
    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        app.state.commands.close()  # as the server does while it stops
        ws.send_json(_step("late"))
        ack = ws.receive_json()
        ws.send_json({"type": "ping"})
        assert ws.receive_json()["type"] == "pong"
    assert (ack["id"], ack["code"]) == ("late", "unavailable") and "stopping" in ack["error"]
