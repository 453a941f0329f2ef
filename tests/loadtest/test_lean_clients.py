"""The lean clients on real sockets: against the real server (``freeagentics serve``), and
the REST pool's queueing and retry against a small scripted HTTP server."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from freeagentics.loadtest.httpclient import HttpPool, get_request
from freeagentics.loadtest.server import ServerProcess
from freeagentics.loadtest.wsclient import open_ws

API = "/api/v1"


@pytest.fixture(scope="module")
def server():
    with ServerProcess(command="serve") as srv:
        sim = srv.create_simulation(5, "lean-clients")
        yield srv, sim["id"]


def _outcome(pool: HttpPool, raw: bytes, keep: bool = False) -> asyncio.Future:
    future = asyncio.get_running_loop().create_future()
    pool.request(raw, lambda *o: future.set_result(o), keep)
    return future


def test_websocket_subscribe_command_ping_and_frames(server):
    srv, sim_id = server

    async def talk() -> tuple[list, list, list]:
        frames, texts, errors = [], [], []
        replies: asyncio.Queue = asyncio.Queue()

        def on_text(payload: bytes) -> None:
            texts.append(payload)
            replies.put_nowait(orjson.loads(payload))

        conn = await open_ws(
            "127.0.0.1",
            srv.port,
            on_binary=frames.append,
            on_text=on_text,
            on_error=lambda k, d: errors.append((k, d)),
        )
        sub = {"type": "subscribe", "topic": "world", "sim_id": sim_id, "format": "msgpack"}
        for message in (
            {**sub, "id": "sub"},
            {"type": "command", "action": "step", "sim_id": sim_id, "args": {"n": 1}, "id": 1},
            {"type": "ping", "id": 2},
        ):
            conn.send(orjson.dumps(message))
        got = {}
        while len(got) < 3:
            doc = await asyncio.wait_for(replies.get(), 60)
            got[doc["id"]] = doc
        for _ in range(100):  # the stepped tick's frame follows its ack
            if frames:
                break
            await asyncio.sleep(0.05)
        conn.abort()
        return got, frames, errors

    got, frames, errors = asyncio.run(talk())
    assert got["sub"]["type"] == "ack" and got["sub"]["ok"]
    assert got[1]["type"] == "ack" and got[1]["ok"], got[1]
    assert got[2]["type"] == "pong"
    assert frames and all(n > 100 for n in frames)  # world frames, counted whole
    assert errors == []


def test_rest_pool_statuses_bodies_and_limit(server):
    srv, sim_id = server
    host = f"127.0.0.1:{srv.port}"

    async def run() -> tuple[tuple, tuple, list, HttpPool]:
        pool = HttpPool("127.0.0.1", srv.port, limit=2)
        found = await _outcome(pool, get_request(host, f"{API}/simulations/{sim_id}"), True)
        missing = await _outcome(pool, get_request(host, f"{API}/simulations/999999"))
        raw = get_request(host, f"{API}/simulations/{sim_id}/agents?limit=3")
        many = await asyncio.gather(*(_outcome(pool, raw) for _ in range(12)))
        pool.close()
        return found, missing, many, pool

    found, missing, many, pool = asyncio.run(run())
    status, body, error = found
    assert (status, error) == (200, None) and orjson.loads(body)["id"] == sim_id
    assert missing[0] == 404 and missing[2] is None and b"999999" in missing[1]
    assert all(o == (200, None, None) for o in many)
    assert pool.opened <= 2 and pool.queued > 0  # the limit held: requests waited their turn


async def _scripted_server(answers: list[bool]) -> tuple[asyncio.Server, int]:
    """An HTTP server answering, per connection, the requests ``answers`` marks True, in
    order, and closing the connection (with no reply) at the first False."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for answer in answers:
            try:
                await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            if not answer:
                break
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    return srv, srv.sockets[0].getsockname()[1]


def test_a_reused_connection_closed_unanswered_is_retried_once():
    async def run() -> tuple[list, int, int]:
        # each connection answers one request and drops the next, as an idle timeout would
        srv, port = await _scripted_server([True, False])
        pool = HttpPool("127.0.0.1", port, limit=1)
        raw = get_request(f"127.0.0.1:{port}", "/")
        outcomes = [await _outcome(pool, raw) for _ in range(3)]
        pool.close()
        srv.close()
        return outcomes, pool.retried, pool.opened

    outcomes, retried, opened = asyncio.run(run())
    assert outcomes == [(200, None, None)] * 3
    assert retried == 2 and opened == 3


def test_a_fresh_connection_closed_unanswered_fails():
    async def run() -> tuple:
        srv, port = await _scripted_server([False])
        pool = HttpPool("127.0.0.1", port, limit=1)
        outcome = await _outcome(pool, get_request(f"127.0.0.1:{port}", "/"))
        pool.close()
        srv.close()
        return outcome, pool.retried

    outcome, retried = asyncio.run(run())
    assert outcome == (None, None, "rest_connection_lost") and retried == 0
