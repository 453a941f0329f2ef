"""Frozen and dying worlds are visible: /metrics gauges and WebSocket metrics frames."""

from __future__ import annotations

import orjson
from server.conftest import BOTH_HOSTS

from freeagentics.server.ws.frames import Topic, build, decode_msgpack, encode
from freeagentics.simulation import Simulation
from freeagentics.simulation.scenario import scenario_from_mapping

API = "/api/v1"
#: three agents filling a 1 x 3 corridor: nobody can move
FROZEN = {
    "world": {"height": 1, "width": 3, "wall_density": 0.0, "n_goals": 0},
    "agents": {"explorer": 3},
    "simulation": {"stuck_ticks": 3},
}
DYING = {**FROZEN, "world": {**FROZEN["world"], "initial_energy": 0.5, "energy_cost_per_tick": 1.0}}


def _create(client, scenario) -> int:
    r = client.post(f"{API}/simulations", json={"name": "t", "scenario": scenario})
    assert r.status_code in (200, 201), r.text
    return r.json()["id"]


@BOTH_HOSTS
def test_metrics_expose_activity_and_warnings_per_simulation(client):
    frozen, dying = _create(client, FROZEN), _create(client, DYING)
    for sim in (frozen, dying):
        assert client.post(f"{API}/simulations/{sim}/step", json={"n": 4}).status_code == 200
    text = client.get("/metrics").text
    f, d = f'simulation="{frozen}"', f'simulation="{dying}"'
    assert f"freeagentics_simulation_moving_fraction{{{f}}} 0.0" in text
    assert f"freeagentics_simulation_agents_stuck{{{f}}} 3.0" in text
    assert f"freeagentics_simulation_alive_fraction{{{f}}} 1.0" in text
    assert f'freeagentics_simulation_warning{{{f},warning="frozen"}} 1.0' in text
    assert f'freeagentics_simulation_warning{{{f},warning="dying"}} 0.0' in text
    assert f"freeagentics_simulation_agents_dead{{{d}}} 3.0" in text
    assert f"freeagentics_simulation_alive_fraction{{{d}}} 0.0" in text
    assert f'freeagentics_simulation_warning{{{d},warning="dying"}} 1.0' in text
    # a world without resources has a layout to show (it used to fail with a 500)
    world = client.get(f"{API}/simulations/{frozen}/world")
    assert world.status_code == 200 and world.json()["resource_names"] == []
    # a deleted simulation leaves no series behind (label values stay bounded)
    assert client.delete(f"{API}/simulations/{dying}").status_code == 204
    assert d not in client.get("/metrics").text


def test_websocket_metrics_frame_carries_activity_and_warnings():
    sim = Simulation(scenario_from_mapping(FROZEN).config)
    for _ in range(3):
        events = sim.step()
    doc = build(Topic("metrics", "7"), events)
    for payload in (orjson.loads(encode(doc, "json")), decode_msgpack(encode(doc, "msgpack"))):
        activity = payload["data"]["activity"]
        assert activity["moving_fraction"] == 0.0 and activity["stuck"] == 3
        assert activity["alive_fraction"] == 1.0 and activity["dead"] == 0
        assert [w["code"] for w in activity["warnings"]] == ["frozen", "stuck"]
        assert "3 of 3 agents have not moved for 3 ticks" in activity["warnings"][1]["message"]


def test_too_long_a_stuck_window_is_refused_with_a_422(client):
    scenario = {**FROZEN, "simulation": {"stuck_ticks": 10**9}}
    r = client.post(f"{API}/simulations", json={"name": "t", "scenario": scenario})
    detail = r.json()["detail"]
    assert r.status_code == 422 and "simulation.stuck_ticks" in detail and "1000000" in detail
