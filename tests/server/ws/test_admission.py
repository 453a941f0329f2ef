"""WebSocket admission in the real app: message rate, connections and failed logins per address."""

from __future__ import annotations

import pytest
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from freeagentics.server.ws import CLOSE_ABUSIVE, CLOSE_UNAUTHORIZED
from freeagentics.server.ws.endpoint import MAX_STRIKES

from ..conftest import KEYS, SECRET, key_of


def test_a_flood_of_messages_is_limited_then_closed(make_client):
    client = make_client(ws_messages_per_second=0.1, ws_message_burst=5)
    replies, code = [], None
    with client.websocket_connect("/ws") as ws:
        for i in range(40):
            ws.send_json({"type": "ping", "id": i})
        try:
            for _ in range(40):  # at most one reply each: a server that serves all is not stuck
                replies.append(ws.receive_json())
        except WebSocketDisconnect as exc:
            code, reason = exc.code, exc.reason
    pongs = [r for r in replies if r["type"] == "pong"]
    limited = [r for r in replies if r.get("code") == "rate_limited"]
    assert [p["id"] for p in pongs] == [0, 1, 2, 3, 4]
    # the last error may be cut off by the close that follows it
    assert 0 < len(limited) <= MAX_STRIKES and "messages per second" in limited[0]["error"]
    assert code == CLOSE_ABUSIVE and "over-rate" in reason


def test_connections_per_address_are_capped(make_client):
    client = make_client(ws_connections_per_address=2)
    with client.websocket_connect("/ws"), client.websocket_connect("/ws"):
        with pytest.raises(WebSocketDenialResponse) as info:
            with client.websocket_connect("/ws"):
                pass
        assert info.value.status_code == 429
    with client.websocket_connect("/ws") as ws:  # closing one frees its place
        ws.send_json({"type": "ping", "id": 1})
        assert ws.receive_json()["type"] == "pong"
    assert client.app.state.gate.ws_open == {}


def test_handshakes_per_minute_are_limited(make_client):
    client = make_client(ws_connects_per_minute=3)
    for _ in range(3):
        with client.websocket_connect("/ws"):
            pass
    with pytest.raises(WebSocketDenialResponse) as info:
        with client.websocket_connect("/ws"):
            pass
    assert info.value.status_code == 429 and int(info.value.headers["retry-after"]) >= 1


def test_failed_logins_over_websocket_and_http_share_the_lockout(make_client):
    from freeagentics.server.ws import CLOSE_RATE_LIMITED

    client = make_client(
        mode="production", secret_key=SECRET, api_keys=KEYS, auth_failures_per_minute=3
    )
    for url in ("/ws?api_key=wrong-key-000000000", "/ws?token=nonsense"):
        with client.websocket_connect(url) as ws:
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive_json()
        assert info.value.code == CLOSE_UNAUTHORIZED
    assert client.get("/api/v1/auth/me", headers={"X-API-Key": "x" * 20}).status_code == 401
    viewer = next(k for k, r in KEYS.items() if r == "viewer")
    with client.websocket_connect(f"/ws?api_key={viewer}") as ws:
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_json()
    assert info.value.code == CLOSE_RATE_LIMITED
    assert "failed authentications" in info.value.reason
    assert client.get("/api/v1/auth/me", headers=key_of("viewer")).status_code == 429
