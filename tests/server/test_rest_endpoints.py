"""Every REST endpoint, through HTTP, on a small simulation."""

from __future__ import annotations

import time

from server.conftest import BOTH_HOSTS, SMALL

pytestmark = BOTH_HOSTS

API = "/api/v1"


def test_simulation_lifecycle(client, sim):
    base = f"{API}/simulations/{sim}"
    assert client.get(base).json()["status"] == "created"
    r = client.post(f"{base}/step", json={"n": 3})
    assert r.status_code == 200 and r.json()["tick"] == 3
    assert client.post(f"{base}/start").json()["status"] == "running"
    assert client.post(f"{base}/step", json={"n": 1}).status_code == 409
    time.sleep(0.1)
    paused = client.post(f"{base}/pause").json()
    assert paused["status"] == "paused" and paused["tick"] > 3
    assert client.post(f"{base}/resume").json()["status"] == "running"
    assert client.post(f"{base}/stop").json()["status"] == "completed"
    assert client.post(f"{base}/start").status_code == 409
    listed = client.get(f"{API}/simulations", params={"status": "completed"}).json()
    assert [s["id"] for s in listed] == [sim]
    assert client.delete(base).status_code == 204
    assert client.get(base).status_code == 404


def test_checkpoint_and_restore(client, sim):
    base = f"{API}/simulations/{sim}"
    client.post(f"{base}/step", json={"n": 2})
    ckpt = client.post(f"{base}/checkpoints")
    assert ckpt.status_code == 201 and ckpt.json()["tick"] == 2
    client.post(f"{base}/step", json={"n": 5})
    assert client.get(base).json()["tick"] == 7
    listed = client.get(f"{base}/checkpoints").json()  # one from creation, then ours
    assert [(c["id"], c["tick"]) for c in listed][-1] == (ckpt.json()["id"], 2)
    assert [c["tick"] for c in listed] == [0, 2]
    restored = client.post(f"{base}/restore", json={"checkpoint_id": ckpt.json()["id"]})
    assert restored.json()["tick"] == 2
    assert client.post(f"{base}/restore", json={"checkpoint_id": 999}).status_code == 404


def test_agents_add_list_inspect_remove(client, sim):
    base = f"{API}/simulations/{sim}/agents"
    client.post(f"{API}/simulations/{sim}/step", json={"n": 2})
    added = client.post(base, json={"kind": "collector", "count": 2})
    assert added.status_code == 201 and added.json()["ids"] == [8, 9]
    page = client.get(base, params={"kind": "collector", "limit": 2, "offset": 1}).json()
    assert page["total"] == 5 and len(page["items"]) == 2
    assert all(a["kind"] == "collector" for a in page["items"])
    detail = client.get(f"{base}/0", params={"history": 2}).json()
    assert abs(sum(detail["beliefs"][0]["p"]) - 1) < 1e-3
    assert len(detail["q_pi"]) == len(detail["G"]) and len(detail["history"]) == 2
    assert set(detail["metrics"]) >= {"belief_entropy", "free_energy"}
    assert client.post(f"{base}/remove", json={"ids": [8, 9]}).json() == {"removed": 2}
    assert client.delete(f"{base}/0").json() == {"removed": 1}
    assert client.get(f"{base}/0").status_code == 404
    r = client.post(f"{base}/remove", json={"ids": [1, 12345]})
    assert r.status_code == 404 and "12345" in r.json()["detail"]
    assert client.get(base).json()["total"] == 7
    r = client.post(base, json={"kind": "wizard", "count": 1})
    assert r.status_code == 422 and "wizard" in r.json()["detail"]


def test_custom_kind_from_a_model_spec(client):
    spec = {
        "name": "scouts",
        "scenario": SMALL,
        "kinds": [{"name": "scout", "count": 2, "spec": {"factors": []}}],
    }
    r = client.post(f"{API}/simulations", json=spec)
    assert r.status_code == 422 and r.json()["type"] == "spec_error"
    assert r.json()["detail"].startswith("kinds[0].spec")


def test_coalitions(client, sim):
    base = f"{API}/simulations/{sim}/coalitions"
    formed = client.post(f"{base}/formation")
    assert formed.status_code == 200 and formed.json()["tick"] == 1
    coalitions = client.get(base).json()
    assert coalitions and coalitions == formed.json()["coalitions"]
    one = client.get(f"{base}/{coalitions[0]['id']}").json()
    assert len(one["members"]) == one["size"] and one["target"] is not None
    assert client.get(f"{base}/9999").status_code == 404


def test_knowledge_queries(client, sim):
    client.post(f"{API}/simulations/{sim}/step", json={"n": 2})
    base = f"{API}/simulations/{sim}/knowledge"
    stats = client.get(f"{base}/stats").json()
    assert stats["nodes_by_type"]["agent"] == 8
    agents = client.get(f"{base}/nodes", params={"type": "agent", "limit": 3}).json()["items"]
    assert len(agents) == 3 and all(n["type"] == "agent" for n in agents)
    node = agents[0]["id"]
    assert client.get(f"{base}/nodes/{node}").json()["id"] == node
    near = client.get(f"{base}/nodes/{node}/neighbours", params={"direction": "both"}).json()
    assert near["node"] == node and len(near["edges"]) >= len(near["neighbours"]) > 0
    hop = client.get(f"{base}/nodes/{node}/k-hop", params={"k": 2, "direction": "both"}).json()
    assert hop["distances"][str(node)] == 0
    target = near["neighbours"][0]
    path = client.get(
        f"{base}/path", params={"src": node, "dst": target, "direction": "both"}
    ).json()
    assert path["path"][0] == node and path["path"][-1] == target
    r = client.get(f"{base}/nodes", params={"where": "[1,2]"})
    assert r.status_code == 422 and r.json()["detail"].startswith("where:")
    r = client.get(f"{base}/nodes", params={"where": '{"energy__zz": 1}'})
    assert r.status_code == 422 and "zz" in r.json()["detail"]
    assert client.get(f"{base}/nodes/999999").status_code == 404


def test_model_validation_names_the_path(client):
    good = {
        "factors": [{"name": "f", "states": ["a", "b"], "controls": ["stay", "go"]}],
        "modalities": [{"name": "o", "outcomes": ["x", "y"], "likelihood": "identity"}],
    }
    r = client.post(f"{API}/models/validate", json={"spec": good}).json()
    assert r["valid"] and r["summary"]["num_states"] == [2]
    bad = {**good, "modalities": [{**good["modalities"][0], "likelihood": "bogus"}]}
    r = client.post(f"{API}/models/validate", json={"spec": bad}).json()
    assert not r["valid"] and r["error"]["path"] == "spec.modalities[0].likelihood"
    gmn = client.post(f"{API}/models/validate", json={"gmn": "[nodes]\nx: state {}"}).json()
    assert not gmn["valid"] and gmn["error"]["message"]
    r = client.post(f"{API}/models/validate", json={"spec": good, "gmn": "x"})
    assert r.status_code == 422 and "exactly one" in r.json()["detail"]


def test_health_metrics_and_docs(client, sim):
    assert client.get(f"{API}/health/live").json()["status"] == "ok"
    ready = client.get(f"{API}/health/ready").json()
    assert ready["database"] == "ok" and ready["simulations"] == 1
    client.post(f"{API}/simulations/{sim}/step", json={"n": 2})
    text = client.get("/metrics").text
    assert "freeagentics_tick_duration_seconds_count 2.0" in text
    assert 'freeagentics_agents{kind="explorer"} 4.0' in text
    assert "process_resident_memory_bytes" in text
    assert "freeagentics_db_write_seconds_count" in text
    assert "freeagentics_websocket_connections" in text
    assert "/api/v1/simulations" in client.get("/openapi.json").json()["paths"]


def test_bad_input_is_a_4xx_naming_the_problem(client, sim):
    r = client.post(
        f"{API}/simulations", content=b"{bad", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and "malformed JSON" in r.json()["detail"]
    r = client.post(f"{API}/simulations", json={"scenario": {"world": {"height": "ten"}}})
    assert r.status_code == 422
    assert r.json()["detail"] == "body.scenario.world.height: expected an integer >= 1, got 'ten'"
    r = client.post(f"{API}/simulations", json={"scenario": {"world": {"height": 10**6}}})
    assert r.status_code == 422 and "world cells" in r.json()["detail"]
    r = client.post(f"{API}/simulations/{sim}/step", json={"n": 10**6})
    assert r.status_code == 422 and r.json()["detail"].startswith("body.n")
    r = client.post(f"{API}/simulations", json={"bogus": 1})
    assert r.status_code == 422 and "bogus" in r.json()["detail"]
    assert client.get(f"{API}/simulations/0").status_code == 422
    assert client.get(f"{API}/simulations/77").json()["type"] == "not_found"


def test_demo_simulation_runs_at_start(make_client):
    demo = make_client(demo=True, demo_agents=10)
    sims = demo.get(f"{API}/simulations").json()
    assert [s["name"] for s in sims] == ["demo"] and sims[0]["status"] == "running"


def test_every_scenario_mistake_is_reported_at_once(client):
    scenario = {
        "world": {"height": 0, "heigth": 3},
        "agents": {"explorr": 2},
        "coalitions": {"strategy": "best"},
    }
    r = client.post(f"{API}/simulations", json={"scenario": scenario})
    body = r.json()
    assert r.status_code == 422 and body["detail"].endswith("(and 3 more)")
    messages = [f"{'.'.join(e['loc'])}: {e['msg']}" for e in body["errors"]]
    assert messages == [
        "body.scenario.world.height: expected an integer >= 1, got 0",
        "body.scenario.world: unknown key(s) ['heigth']; allowed: ['corridor_width', "
        "'energy_cost_per_move', 'energy_cost_per_tick', 'energy_per_unit', 'goal_reward', "
        "'hazard_density', 'hazard_penalty', 'height', 'initial_energy', 'layout', "
        "'maze_loops', 'n_goals', 'observation_radius', 'resources', 'wall_density', "
        "'width'] ('heigth' -> did you mean 'height'?)",
        "body.scenario.agents: unknown agent kind(s) ['explorr']; kinds are "
        "('collector', 'coordinator', 'explorer')",
        "body.scenario.coalitions.strategy: expected one of ['greedy', 'optimal', 'grid'], "
        "got 'best'",
    ]
    # cross-field mistakes, found after the schema, are all reported too
    scenario = {
        "world": {"height": 4, "width": 4, "wall_density": 0.7, "hazard_density": 0.5},
        "agents": {"explorer": 0},
    }
    body = client.post(f"{API}/simulations", json={"scenario": scenario}).json()
    assert body["detail"].startswith("2 problems: world: ")
    assert [e["msg"][:7] for e in body["errors"]] == ["world: ", "agents:"]


def test_the_openapi_document_describes_the_scenario(client):
    doc = client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    world = schemas["WorldSection"]["properties"]
    assert world["height"]["minimum"] == 1 and world["height"]["default"] == 32
    assert schemas["ScenarioSpec"]["examples"][0]["scenario"]["name"] == "foraging"
    create = schemas["CreateSimulation"]["properties"]["scenario"]
    assert "ScenarioSpec" in str(create)


def test_step_without_a_body_runs_one_tick(client, sim):
    r = client.post(f"{API}/simulations/{sim}/step")
    assert r.status_code == 200 and r.json()["tick"] == 1
    assert client.post(f"{API}/simulations/{sim}/step", json={"n": 2}).json()["tick"] == 3
    r = client.post(f"{API}/simulations/{sim}/step", json={"n": 0})
    assert r.status_code == 422 and r.json()["detail"].startswith("body.n")
