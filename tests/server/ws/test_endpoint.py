"""The ``/ws`` route through Starlette's test client: auth, roles, acks, malformed input."""

from __future__ import annotations

import contextlib
import time

import msgpack
import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from freeagentics.server.auth import Role, issue_token
from freeagentics.server.settings import Settings
from freeagentics.server.ws import CLOSE_ABUSIVE, CLOSE_UNAUTHORIZED, install_websockets
from freeagentics.server.ws.endpoint import MAX_STRIKES

VIEWER_KEY = "viewer-key-0123456789"
OPERATOR_KEY = "operator-key-0123456789"
PRODUCTION = Settings(
    mode="production",
    secret_key="s" * 40,
    api_keys={VIEWER_KEY: "viewer", OPERATOR_KEY: "operator"},
    frame_rate_hz=1000,
)


def make_app(service, settings: Settings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield

    app = FastAPI(lifespan=lifespan)
    app.state.settings, app.state.service = settings, service
    install_websockets(app)
    return app


@pytest.fixture
def prod(service):
    with TestClient(make_app(service, PRODUCTION)) as client:
        yield client


@pytest.fixture
def dev(service):
    with TestClient(make_app(service, Settings(frame_rate_hz=1000))) as client:
        yield client


def test_no_credentials_in_production_needs_an_auth_message(prod):
    with prod.websocket_connect("/ws") as ws:
        ws.send_json({"type": "auth", "id": "a1", "api_key": VIEWER_KEY})
        assert ws.receive_json() == {
            "type": "ack",
            "id": "a1",
            "ok": True,
            "result": {"name": "api-key:6789", "role": "viewer"},
        }
        ws.send_json({"type": "ping", "id": 9})
        assert ws.receive_json()["type"] == "pong"


@pytest.mark.parametrize(
    "how",
    [
        {"headers": {"authorization": "Bearer nonsense"}},
        {"url": "/ws?api_key=not-a-key-at-all"},
        {"first": {"type": "auth", "token": "nonsense"}},
        {"first": {"type": "ping", "id": 1}},
    ],
)
def test_bad_credentials_close_with_4001_and_a_reason(prod, how):
    with prod.websocket_connect(how.get("url", "/ws"), headers=how.get("headers", {})) as ws:
        if "first" in how:
            ws.send_json(how["first"])
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_json()
    assert info.value.code == CLOSE_UNAUTHORIZED
    assert info.value.reason.startswith("unauthorized:")


def test_viewer_may_subscribe_but_not_command(prod, service):
    with prod.websocket_connect(f"/ws?api_key={VIEWER_KEY}") as ws:
        ws.send_json({"type": "subscribe", "id": 1, "topic": "world", "sim_id": 1})
        assert ws.receive_json() == {
            "type": "ack",
            "id": 1,
            "ok": True,
            "result": {"topic": "world/1"},
        }
        ws.send_json({"type": "command", "id": "c-1", "action": "pause", "sim_id": 1})
        ack = ws.receive_json()
    assert ack["id"] == "c-1" and ack["ok"] is False and ack["code"] == "forbidden"
    assert "operator" in ack["error"]
    assert service.commands == []


def test_operator_commands_are_acknowledged_with_the_clients_own_id(prod, service):
    token = issue_token(PRODUCTION, "op", Role.OPERATOR)
    with prod.websocket_connect(f"/ws?token={token}") as ws:
        for i, (action, args) in enumerate(
            [
                ("start", {}),
                ("pause", {}),
                ("step", {"n": 3}),
                ("add_agents", {"kind": "explorer", "count": 2}),
            ]
        ):
            ws.send_json(
                {"type": "command", "id": f"m{i}", "action": action, "sim_id": 1, "args": args}
            )
            ack = ws.receive_json()
            assert ack["id"] == f"m{i}" and ack["ok"] is True, ack
        assert ack["result"] == [100, 101]
        ws.send_json({"type": "command", "id": 77, "action": "start", "sim_id": 5})
        missing = ws.receive_json()
        ws.send_json(
            {"type": "command", "id": 78, "action": "step", "sim_id": 1, "args": {"n": "x"}}
        )
        bad = ws.receive_json()
    assert service.commands == [
        ("start", 1),
        ("pause", 1),
        ("step", 1, 3),
        ("add_agents", 1, "explorer", 2),
    ]
    assert missing == {
        "type": "ack",
        "id": 77,
        "ok": False,
        "code": "unknown_id",
        "error": "no simulation with id 5",
    }
    assert bad["id"] == 78 and bad["code"] == "bad_argument"


def test_authorization_header_is_accepted(prod):
    token = issue_token(PRODUCTION, "v", Role.VIEWER)
    with prod.websocket_connect("/ws", headers={"authorization": f"Bearer {token}"}) as ws:
        ws.send_json({"type": "ping", "id": "p"})
        assert ws.receive_json()["id"] == "p"


@pytest.mark.parametrize(
    ("send", "code", "fragment"),
    [
        (("text", "{not json"), "bad_json", "not JSON"),
        (("bytes", b"\xc1\xc1"), "bad_msgpack", "not MessagePack"),
        (("text", "[1, 2]"), "invalid_message", "must be an object"),
        (("text", '{"type": "dance", "id": 4}'), "invalid_message", "type"),
        (("text", '{"type": "subscribe", "id": 5, "topic": "world"}'), "invalid_message", "sim_id"),
        (
            ("text", '{"type": "subscribe", "id": 6, "topic": "agent", "sim_id": 1}'),
            "invalid_message",
            "agent_id",
        ),
        (
            ("text", '{"type": "subscribe", "id": 7, "topic": "world", "sim_id": "a/b"}'),
            "invalid_message",
            "sim_id",
        ),
        (
            ("text", '{"type": "command", "id": 8, "action": "explode", "sim_id": 1}'),
            "invalid_message",
            "action",
        ),
        (("text", "x" * 70_000), "too_large", "over"),
    ],
)
def test_malformed_messages_get_an_error_frame_and_the_connection_stays(dev, send, code, fragment):
    kind, data = send
    with dev.websocket_connect("/ws") as ws:
        if kind == "text":
            ws.send_text(data)
            reply = ws.receive_json()
        else:
            ws.send_bytes(data)
            reply = msgpack.unpackb(ws.receive_bytes())
        assert reply["type"] == "error" and reply["code"] == code, reply
        assert fragment in reply["error"]
        ws.send_json({"type": "ping", "id": "still-here"})
        assert ws.receive_json()["id"] == "still-here"


def test_error_frame_carries_the_id_when_one_was_readable(dev):
    with dev.websocket_connect("/ws") as ws:
        ws.send_json({"type": "subscribe", "id": "s9", "topic": "nope", "sim_id": 1})
        reply = ws.receive_json()
    assert reply["id"] == "s9" and "topic" in reply["error"]


def test_a_stream_of_garbage_closes_the_connection_as_a_policy_violation(dev):
    with dev.websocket_connect("/ws") as ws:
        for _ in range(MAX_STRIKES):
            ws.send_text("garbage")
        with pytest.raises(WebSocketDisconnect) as info:
            for _ in range(MAX_STRIKES + 1):
                ws.receive_json()
    assert info.value.code == CLOSE_ABUSIVE


def test_messagepack_requests_get_messagepack_replies_and_frames(dev, service, events):
    with dev.websocket_connect("/ws") as ws:
        ws.send_bytes(
            msgpack.packb(
                {"type": "subscribe", "id": 1, "topic": "world", "sim_id": 1, "format": "msgpack"}
            )
        )
        assert msgpack.unpackb(ws.receive_bytes())["ok"] is True
        deadline = time.monotonic() + 5
        service.emit(1, events(4))
        frame = msgpack.unpackb(ws.receive_bytes())
        assert time.monotonic() < deadline
    assert frame["topic"] == "world" and frame["tick"] == 4
    positions = np.frombuffer(frame["data"]["positions"]["data"], "<i2").reshape(-1, 2)
    np.testing.assert_array_equal(positions, events(4).positions)


def test_subscribe_to_unknown_simulation_is_refused_in_the_ack(dev):
    with dev.websocket_connect("/ws") as ws:
        ws.send_json({"type": "subscribe", "id": 1, "topic": "world", "sim_id": 42})
        ack = ws.receive_json()
        ws.send_json({"type": "unsubscribe", "id": 2, "topic": "world", "sim_id": 1})
        not_subscribed = ws.receive_json()
    assert ack["ok"] is False and ack["code"] == "unknown_id"
    assert not_subscribed["ok"] is False and not_subscribed["code"] == "bad_argument"


def test_disconnect_releases_the_hub_and_tick_subscriptions(dev, service):
    hub = dev.app.state.hub
    with dev.websocket_connect("/ws") as ws:
        ws.send_json({"type": "subscribe", "id": 1, "topic": "world", "sim_id": 1})
        ws.receive_json()
        assert len(hub.clients) == 1 and service.callbacks
    deadline = time.monotonic() + 5
    while (hub.clients or service.callbacks) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not hub.clients and hub.topic_count() == 0 and hub.feed_count() == 0
    assert not service.callbacks
