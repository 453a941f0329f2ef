"""Resource limits over REST: each is a 4xx naming the limit, checked before allocation."""

from __future__ import annotations

import threading

import pytest
from server.conftest import BOTH_HOSTS, SMALL

from freeagentics.errors import ConflictError, LimitError

pytestmark = BOTH_HOSTS

API = "/api/v1"
TWO_CONTROLS = {
    "factors": [{"name": "f", "states": ["a", "b"], "controls": ["x", "y"]}],
    "modalities": [{"name": "o", "outcomes": ["x", "y"], "likelihood": "identity"}],
}


def _limit(response) -> str:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["type"] == "limit_exceeded", body
    return body["errors"][0]["limit"]


def test_validate_refuses_a_huge_policy_len_at_once(client):
    # the reported request froze the server for 22 s and answered 500
    body = {"spec": {**TWO_CONTROLS, "policy_len": 2**32}}
    assert _limit(client.post(f"{API}/models/validate", json=body)) == "model_max_policy_len"


def test_validate_refuses_a_long_horizon_without_controls(client):
    spec = {**TWO_CONTROLS, "factors": [{"name": "f", "states": ["a", "b"]}], "policy_len": 1000}
    r = client.post(f"{API}/models/validate", json={"spec": spec})
    assert _limit(r) == "model_max_policy_len"


def test_model_limits_follow_the_settings(make_client):
    client = make_client(model_max_policies=3)
    body = {"spec": {**TWO_CONTROLS, "policy_len": 2}}  # 4 policies
    assert _limit(client.post(f"{API}/models/validate", json=body)) == "model_max_policies"
    kind = {"name": "k", "count": 1, "spec": body["spec"]}
    r = client.post(f"{API}/simulations", json={"scenario": SMALL, "kinds": [kind]})
    assert _limit(r) == "model_max_policies"


def test_add_agents_rechecks_the_simulation_total(make_client):
    client = make_client(max_agents_per_simulation=20)
    sim = client.post(f"{API}/simulations", json={"scenario": SMALL}).json()  # 8 agents
    url = f"{API}/simulations/{sim['id']}/agents"
    assert client.post(url, json={"kind": "explorer", "count": 12}).status_code == 201
    r = client.post(url, json={"kind": "explorer", "count": 1})
    assert _limit(r) == "max_agents_per_simulation"
    assert client.get(f"{API}/simulations/{sim['id']}").json()["agents"] == 20


def test_agents_per_request_and_step_ticks_follow_the_settings(make_client):
    client = make_client(max_agents_per_request=5, max_step_ticks=3)
    sim = client.post(f"{API}/simulations", json={"scenario": SMALL}).json()
    url = f"{API}/simulations/{sim['id']}"
    assert _limit(client.post(f"{url}/agents", json={"kind": "explorer", "count": 6})) == (
        "max_agents_per_request"
    )
    assert _limit(client.post(f"{url}/step", json={"n": 4})) == "max_step_ticks"
    assert client.post(f"{url}/step", json={"n": 3}).json()["tick"] == 3


def test_concurrent_creates_never_pass_max_simulations(make_client):
    client = make_client(max_simulations=4)
    service = client.app.state.service
    start = threading.Barrier(24)
    outcomes: list[str] = []

    def create() -> None:
        start.wait()
        try:
            service.create(SMALL)
            outcomes.append("created")
        except ConflictError:
            outcomes.append("refused")

    threads = [threading.Thread(target=create) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("created") == 4
    assert len(service.ids()) == 4
    r = client.post(f"{API}/simulations", json={"scenario": SMALL})
    assert r.status_code == 409 and "max_simulations" in r.json()["detail"]


def test_service_limits_are_the_library_error(client):
    service = client.app.state.service
    sim_id = service.create(SMALL)
    with pytest.raises(LimitError) as info:
        service.step(sim_id, service.limits.max_step_ticks + 1)
    assert info.value.limit == "max_step_ticks"


# ---------------------------------------------------------------------- plain input, no 500
def test_world_of_a_simulation_without_resources(client):
    scenario = {**SMALL, "world": {"height": 8, "width": 8}}
    sim = client.post(f"{API}/simulations", json={"scenario": scenario}).json()
    r = client.get(f"{API}/simulations/{sim['id']}/world")
    assert r.status_code == 200, r.text
    assert r.json()["resource_names"] == [] and r.json()["resource_amounts"]["shape"] == [0]


@pytest.mark.parametrize("seed", [2**63, 2**64 + 5, -1])
def test_seed_out_of_range_is_422(client, seed):
    scenario = {**SMALL, "scenario": {"seed": seed}}
    r = client.post(f"{API}/simulations", json={"scenario": scenario})
    assert r.status_code == 422, r.text
    assert "seed" in r.json()["detail"]


def test_largest_seed_is_accepted(client):
    scenario = {**SMALL, "scenario": {"seed": 2**63 - 1}}
    assert client.post(f"{API}/simulations", json={"scenario": scenario}).status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {"name": "a\x00b", "scenario": SMALL},
        {"scenario": {**SMALL, "scenario": {"name": "a\x00b"}}},
        {"scenario": {**SMALL, "world": {**SMALL["world"], "resources": [{"name": "f\x00"}]}}},
    ],
)
def test_nul_characters_are_422(client, body):
    r = client.post(f"{API}/simulations", json=body)
    assert r.status_code == 422, r.text
    assert "NUL" in r.json()["detail"]


def test_more_than_64_factors_is_422(client):
    spec = {
        "factors": [{"name": f"f{i}", "states": ["only"]} for i in range(70)],
        "modalities": [{"name": "o", "outcomes": ["x", "y"], "likelihood": "uniform"}],
    }
    assert _limit(client.post(f"{API}/models/validate", json={"spec": spec})) == (
        "model_max_factors"
    )
    gmn = "[nodes]\n" + "".join(f"s{i}: state {{num_states: 1}}\n" for i in range(70))
    gmn += "o: observation {num_observations: 2}\nl: likelihood\n[edges]\nl -> o: generates\n"
    assert _limit(client.post(f"{API}/models/validate", json={"gmn": gmn})) == ("model_max_factors")


def test_deeply_nested_gmn_is_a_clear_error(client):
    gmn = "[nodes]\ns: state {x: " + "[" * 20_000 + "]" * 20_000 + "}\n"
    r = client.post(f"{API}/models/validate", json={"gmn": gmn})
    assert r.status_code == 200 and r.json()["valid"] is False
    assert "nested more than" in r.json()["error"]["message"]
    kind = {"name": "k", "count": 1, "gmn": gmn}
    r = client.post(f"{API}/simulations", json={"scenario": SMALL, "kinds": [kind]})
    assert r.status_code == 422 and "nested more than" in r.json()["detail"]
