"""GMN over REST: the text and JSON forms, the original's shortcuts reported as warnings."""

from __future__ import annotations

from server.conftest import BOTH_HOSTS

from freeagentics.models.builders import COMPASS_OUTCOMES

API = "/api/v1"

ORIGINAL_TEXT = """Here is the model:
[nodes]
where: state {num_states: 4}
where_seen: observation {num_observations: 4}
go: action {num_actions: 5}
planner: llm_query {trigger_condition: "on_observation"}
[edges]
where -> where_seen: generates
go -> where: influences
where_seen -> planner: queries
"""

JSON_FORM = {
    "nodes": [
        {"id": "where", "type": "state", "properties": {"num_states": 3}},
        {"id": "seen", "type": "observation", "properties": {"num_observations": 3}},
        {"id": "go", "type": "action", "properties": {"num_actions": 2}},
        {"id": "sees", "type": "likelihood"},
        {"id": "moves", "type": "transition"},
    ],
    "edges": [
        {"source": "where", "target": "sees", "type": "depends_on"},
        {"source": "sees", "target": "seen", "type": "generates"},
        {"source": "where", "target": "moves", "type": "depends_on"},
        {"source": "go", "target": "moves", "type": "depends_on"},
    ],
}


def test_validate_takes_the_original_text_and_says_what_it_assumed(client):
    r = client.post(f"{API}/models/validate", json={"gmn": ORIGINAL_TEXT})
    body = r.json()
    assert r.status_code == 200 and body["valid"], body
    assert body["summary"]["num_states"] == [4] and body["summary"]["num_controls"] == [5]
    joined = "\n".join(body["warnings"])
    assert "before the first section header were skipped" in joined
    assert "llm_query node 'planner' carries no model array" in joined
    assert "its likelihood is the identity" in joined


def test_validate_takes_the_json_form_as_an_object(client):
    body = client.post(f"{API}/models/validate", json={"gmn": JSON_FORM}).json()
    assert body["valid"] and body["warnings"] == []
    assert body["summary"]["num_obs"] == [3] and body["summary"]["num_controls"] == [2]
    broken = {**JSON_FORM, "edges": [{"source": "where", "target": "nowhere"}]}
    body = client.post(f"{API}/models/validate", json={"gmn": broken}).json()
    assert not body["valid"]
    assert body["error"]["path"] == "gmn.edges[0].target"
    assert "unknown node 'nowhere'" in body["error"]["message"]


@BOTH_HOSTS
def test_a_kind_defined_in_the_json_form_runs(client):
    outcomes = len(COMPASS_OUTCOMES)
    compass = {
        "nodes": [
            {"id": "heading", "type": "state", "properties": {"num_states": outcomes}},
            {"id": "compass", "type": "observation", "properties": {"num_observations": outcomes}},
            {"id": "move", "type": "action", "properties": {"num_actions": 5}},
        ],
        "edges": [
            {"source": "heading", "target": "compass", "type": "generates"},
            {"source": "move", "target": "heading", "type": "influences"},
        ],
    }
    scenario = {"world": {"height": 12, "width": 12}, "agents": {"explorer": 1}}
    kinds = [{"name": "walker", "count": 3, "gmn": compass}]
    r = client.post(
        f"{API}/simulations", json={"name": "gmn", "scenario": scenario, "kinds": kinds}
    )
    assert r.status_code in (200, 201), r.text
    sim = r.json()["id"]
    assert client.post(f"{API}/simulations/{sim}/step", json={"n": 2}).status_code == 200
    agents = client.get(f"{API}/simulations/{sim}/agents").json()
    kinds_seen = sorted(a["kind"] for a in agents["items"])
    assert kinds_seen == ["explorer", "walker", "walker", "walker"]
