"""The WebSocket meets the same limits as REST, and feeds are bounded and keyed canonically."""

from __future__ import annotations

from server.conftest import BOTH_HOSTS, SMALL


def _open(client):
    return client.websocket_connect("/ws")


def _send(ws, doc: dict) -> dict:
    ws.send_json(doc)
    return ws.receive_json()


def _command(ws, action: str, sim_id, **args) -> dict:
    return _send(ws, {"type": "command", "id": 1, "action": action, "sim_id": sim_id, "args": args})


def _subscribe(ws, topic: str, sim_id, **extra) -> dict:
    return _send(ws, {"type": "subscribe", "id": 2, "topic": topic, "sim_id": sim_id, **extra})


@BOTH_HOSTS
def test_step_and_add_agents_commands_are_capped_like_rest(make_client):
    client = make_client(max_step_ticks=5, max_agents_per_request=10)
    sim = client.app.state.service.create(SMALL)
    with _open(client) as ws:
        for n in (6, 10**12):  # the reported 10**12 ran until the simulation was deleted
            ack = _command(ws, "step", sim, n=n)
            assert ack["ok"] is False and ack["code"] == "limit_exceeded", ack
            assert "max_step_ticks" in ack["error"]
        ack = _command(ws, "add_agents", sim, kind="explorer", count=400_000)
        assert ack["ok"] is False and "max_agents_per_request" in ack["error"]
        assert _command(ws, "step", sim, n=5)["result"]["tick"] == 5
    assert client.app.state.service.get(sim)["agents"] == 8


@BOTH_HOSTS
def test_add_agents_command_rechecks_the_simulation_total(make_client):
    client = make_client(max_agents_per_simulation=10)
    sim = client.app.state.service.create(SMALL)  # 8 agents
    with _open(client) as ws:
        assert _command(ws, "add_agents", sim, kind="explorer", count=2)["ok"] is True
        ack = _command(ws, "add_agents", sim, kind="explorer", count=1)
        assert ack["ok"] is False and "max_agents_per_simulation" in ack["error"]


@BOTH_HOSTS
def test_subscriptions_per_connection_are_limited(make_client):
    client = make_client(max_subscriptions_per_connection=2)
    sim = client.app.state.service.create(SMALL)
    with _open(client) as ws:
        assert _subscribe(ws, "world", sim)["ok"] is True
        assert _subscribe(ws, "coalitions", sim)["ok"] is True
        ack = _subscribe(ws, "metrics", sim)
        assert ack["ok"] is False and ack["code"] == "limit_exceeded"
        assert "max_subscriptions_per_connection" in ack["error"]
        # changing the format of a topic held is not a new subscription
        assert _subscribe(ws, "world", sim, format="msgpack")["ok"] is True
    assert client.app.state.hub.topic_count() == 0  # all released on disconnect


def test_aliases_of_one_simulation_share_one_feed(make_client):
    client = make_client()
    service = client.app.state.service
    sim = service.create(SMALL)
    hub = client.app.state.hub
    bus = service._managed(sim).sim.bus
    before = len(bus.subscriptions)
    aliases = [sim, str(sim), f"0{sim}", f"000{sim}"]
    with _open(client) as a, _open(client) as b:
        for ws in (a, b):
            for alias in aliases:
                ack = _subscribe(ws, "world", alias)
                assert ack["ok"] is True and ack["result"] == {"topic": f"world/{sim}"}, ack
        ack = _subscribe(a, "world", f"0_0{sim}")  # int() would read this as the same id
        assert ack["ok"] is False and ack["code"] == "unknown_id"
        assert hub.feed_count() == 1 and hub.topic_count() == 1
        assert len(bus.subscriptions) == before + 1  # one consumer thread for the simulation
        assert _send(a, {"type": "unsubscribe", "id": 3, "topic": "world", "sim_id": "01"})["ok"]
    assert hub.feed_count() == 0


@BOTH_HOSTS
def test_feeds_are_bounded_overall(make_client):
    client = make_client(max_feeds=1)
    service = client.app.state.service
    first, second = service.create(SMALL), service.create(SMALL)
    with _open(client) as ws:
        assert _subscribe(ws, "world", first)["ok"] is True
        ack = _subscribe(ws, "world", second)
        assert ack["ok"] is False and "max_feeds" in ack["error"]
        assert _subscribe(ws, "world", 999)["code"] == "unknown_id"  # not a limit
        assert _subscribe(ws, "metrics", first)["ok"] is True  # same feed, another topic
    assert client.app.state.hub.feed_count() == 0
