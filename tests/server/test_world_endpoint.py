"""GET /simulations/{id}/world: the layout and resource amounts as typed arrays."""

from __future__ import annotations

import base64

import numpy as np
from server.conftest import BOTH_HOSTS

from freeagentics.simulation import Simulation
from freeagentics.simulation.scenario import scenario_from_mapping

pytestmark = BOTH_HOSTS

SMALL = {
    "world": {"height": 16, "width": 16, "resources": [{"name": "food", "density": 0.1}]},
    "agents": {"explorer": 4, "collector": 3, "coordinator": 1},
}


def _array(doc: dict) -> np.ndarray:
    return np.frombuffer(
        base64.b64decode(doc["data"]), dtype="<" + np.dtype(doc["dtype"]).str[1:]
    ).reshape(doc["shape"])


def test_world_layout_matches_the_simulation(make_client):
    client = make_client()
    sim = client.post("/api/v1/simulations", json={"scenario": SMALL}).json()
    res = client.get(f"/api/v1/simulations/{sim['id']}/world")
    assert res.status_code == 200, res.text
    body = res.json()
    assert (body["height"], body["width"]) == (16, 16)
    assert body["resource_names"] == ["food"]
    cells = _array(body["cells"])
    assert cells.dtype == np.uint8 and cells.shape == (16, 16)
    # the same scenario built here: its seed makes the same world wherever it runs
    world = Simulation(scenario_from_mapping(SMALL).config).world
    np.testing.assert_array_equal(cells == 1, world.walls)
    np.testing.assert_array_equal(cells == 2, world.goals)
    np.testing.assert_array_equal(cells == 5, world.hazards)
    linear = _array(body["resource_cells"])
    amounts = _array(body["resource_amounts"])
    assert linear.shape == amounts.shape and linear.size > 0
    assert np.all(cells.ravel()[linear] == 6)
    np.testing.assert_allclose(amounts, world.resources[0].ravel()[linear])


def test_world_of_unknown_simulation_is_404(make_client):
    client = make_client()
    assert client.get("/api/v1/simulations/999/world").status_code == 404


def test_world_needs_credentials_in_production(make_client):
    client = make_client(mode="production", secret_key="x" * 40)
    assert client.get("/api/v1/simulations/1/world").status_code == 401
