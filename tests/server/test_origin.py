"""Browser origins: no cross-site state changes or WebSockets (CSRF, DNS rebinding)."""

from __future__ import annotations

import pytest
from starlette.testclient import WebSocketDenialResponse

from freeagentics.server.settings import Settings

from .conftest import KEYS, SECRET, SMALL

SIMS = "/api/v1/simulations"
EVIL = "https://evil.example"


def _names(client) -> list[str]:
    return [s["name"] for s in client.get(SIMS).json()]


def test_cross_origin_text_plain_post_is_refused_in_development(client, sim):
    # what a form or fetch() on a foreign page can send without a CORS preflight
    simple = {"Origin": EVIL, "Content-Type": "text/plain"}
    r = client.post(f"{SIMS}/{sim}/stop", content="x", headers=simple)
    assert r.status_code == 403 and EVIL in r.json()["detail"]
    assert client.get(f"{SIMS}/{sim}").json()["status"] == "created"
    r = client.post(SIMS, content='{"name": "csrf", "scenario": {}}', headers=simple)
    assert r.status_code == 403 and "csrf" not in _names(client)
    assert client.get(SIMS, headers={"Origin": EVIL}).status_code == 200  # reads are not


def test_same_origin_and_allowed_origins_may_post(make_client):
    client = make_client(allowed_origins=["https://dash.example"])
    local = {"Origin": "http://localhost:8000", "Host": "localhost:8000"}
    assert (
        client.post(SIMS, json={"name": "a", "scenario": SMALL}, headers=local).status_code == 201
    )
    allowed = {"Origin": "https://dash.example"}
    assert (
        client.post(SIMS, json={"name": "b", "scenario": SMALL}, headers=allowed).status_code == 201
    )
    assert client.post(SIMS, json={"name": "c", "scenario": SMALL}).status_code == 201  # no Origin
    assert {"a", "b", "c"} <= set(_names(client))


def test_a_rebound_domain_is_not_same_origin_in_development(client, make_client):
    rebound = {"Origin": "http://rebind.example:8000", "Host": "rebind.example:8000"}
    r = client.post(SIMS, json={"name": "x", "scenario": SMALL}, headers=rebound)
    assert r.status_code == 403 and "local name" in r.json()["detail"]
    # production asks for credentials instead, so a real domain name is fine there
    prod = make_client(mode="production", secret_key=SECRET, api_keys=KEYS)
    assert prod.post(SIMS, json={"name": "x"}, headers=rebound).status_code == 401


def test_websocket_from_a_foreign_origin_is_refused(client):
    with pytest.raises(WebSocketDenialResponse) as info:
        with client.websocket_connect("/ws", headers={"Origin": EVIL}):
            pass
    assert info.value.status_code == 403
    local = {"Origin": "http://127.0.0.1:8000", "Host": "127.0.0.1:8000"}
    with client.websocket_connect("/ws", headers=local) as ws:
        ws.send_json({"type": "ping", "id": 1})
        assert ws.receive_json()["type"] == "pong"


@pytest.mark.parametrize(
    ("headers", "development", "refused"),
    [
        ({}, True, False),
        ({"origin": "null", "host": "localhost"}, True, True),
        ({"origin": "http://[::1]:8000", "host": "[::1]:8000"}, True, False),
        ({"origin": "http://app.localhost", "host": "app.localhost"}, True, False),
        ({"origin": "http://localhost:9000", "host": "localhost:8000"}, True, True),
        ({"origin": "https://cors.example", "host": "api.example"}, False, False),
        ({"origin": "https://api.example", "host": "api.example"}, False, False),
        ({"origin": "https://api.example", "host": "api.example"}, True, True),
    ],
)
def test_origin_rules(headers, development, refused):
    from freeagentics.server.gate import origin_refusal

    settings = Settings(
        mode="development" if development else "production",
        secret_key=SECRET,
        cors_origins=["https://cors.example"],
    )
    assert (origin_refusal(headers, settings) is not None) == refused
