"""What the REST views return: named beliefs and policies, float32 values as their shortest
decimals, the knowledge graph's node of an agent, and the ticks a graph read is from."""

from __future__ import annotations

import gc
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from server.conftest import BOTH_HOSTS, SMALL

from freeagentics.models import GenerativeModel, compile_spec
from freeagentics.server.services import _model_view
from freeagentics.server.services._floats import json_float, json_floats
from freeagentics.server.services._model_view import MAX_POLICY_LABELS, model_view, named_steps

API = "/api/v1"
OUTCOMES = ["NW", "N", "NE", "W", "here", "E", "SW", "S", "SE"]
TWO_FACTORS = {  # a kind whose policies move (factor 0) and set a mood (factor 1), 2 steps
    "factors": [
        {
            "name": "place",
            "states": ["near", "far"],
            "controls": ["up", "down", "left", "right", "stay"],
        },
        {"name": "mood", "states": ["calm", "eager"], "controls": ["rest", "rush"]},
    ],
    "modalities": [
        {"name": "compass", "outcomes": OUTCOMES, "depends_on": ["place"], "likelihood": "uniform"}
    ],
    "policy_len": 2,
}


# ---------------------------------------------------------------------- float32 values
float32s = st.floats(width=32, allow_nan=True, allow_infinity=True)


@given(arrays(np.float32, st.integers(0, 40), elements=float32s))
def test_float32_values_read_back_exactly_and_shortest(values):
    out = json_floats(values)
    assert all(type(x) is float for x in out)
    back = np.asarray(out, dtype=np.float32)
    # the very same float32 (bit for bit: signed zeros and NaNs included) ...
    assert back.view(np.uint32).tolist() == values.view(np.uint32).tolist() or (
        np.array_equal(back, values, equal_nan=True)
        and np.array_equal(np.signbit(back), np.signbit(values))
    )
    # ... written as numpy's shortest round-trip decimal of that float32
    for x, v in zip(out, values.tolist(), strict=True):
        expected = float(str(np.float32(v)))
        assert (math.isnan(x) and math.isnan(expected)) or x == expected


@given(float32s.filter(math.isfinite))
def test_one_float32_value(value):
    out = json_float(np.float32(value))
    assert np.float32(out) == np.float32(value)
    assert len(repr(out)) <= len(repr(float(np.float32(value))))


@given(arrays(np.float64, st.integers(0, 20), elements=st.floats(allow_nan=False)))
def test_float64_values_are_unchanged(values):
    assert json_floats(values) == values.tolist()


def test_noise_is_gone():
    assert json_float(np.float32(9.8)) == 9.8 != float(np.float32(9.8))
    assert json_floats(np.zeros((2, 2), np.float32)) == [0.0] * 4


def test_rest_views_write_float32_values_shortest(client, sim):
    client.post(f"{API}/simulations/{sim}/step", json={"n": 3})
    snap = client.app.state.service.snapshot(sim)
    page = client.get(f"{API}/simulations/{sim}/agents", params={"limit": 100}).json()
    energy = [a["energy"] for a in page["items"]]
    assert energy == [float(str(e)) for e in snap.energy]
    np.testing.assert_array_equal(np.float32(energy), snap.energy)
    detail = client.get(f"{API}/simulations/{sim}/agents/0", params={"history": 2}).json()
    assert detail["energy"] == float(str(snap.energy[0]))
    group = snap.groups[detail["kind"]]
    row = group.row(0)
    np.testing.assert_array_equal(np.float32(detail["G"]), group.G[row])
    for name, value in group.metrics(row).items():
        assert detail["metrics"][name] == float(str(value))
    for entry in detail["history"]:
        assert entry == [float(str(np.float32(x))) for x in entry]


def test_coalition_target_is_the_objective_target(client, sim):
    formed = client.post(f"{API}/simulations/{sim}/coalitions/formation").json()
    one = client.get(f"{API}/simulations/{sim}/coalitions/{formed['coalitions'][0]['id']}").json()
    ids, targets = client.app.state.service.snapshot(sim).objectives
    (hit,) = np.flatnonzero(ids == one["objective"])
    assert one["target"] == targets[hit].tolist()


# ---------------------------------------------------------------------- named beliefs
def test_agent_beliefs_and_policies_are_named(client, sim):
    client.post(f"{API}/simulations/{sim}/step", json={"n": 2})
    detail = client.get(f"{API}/simulations/{sim}/agents/0").json()
    group = client.app.state.service.snapshot(sim).groups[detail["kind"]]
    labels = group.model.labels
    (belief,) = detail["beliefs"]
    assert belief["factor"] == labels.factors[0] == "target_offset"
    assert belief["states"] == list(labels.states[0]) and len(belief["p"]) == 81
    np.testing.assert_array_equal(np.float32(belief["p"]), group.qs[0][group.row(0)])
    policies = detail["policies"]
    assert policies["factors"] == ["target_offset"] and policies["horizon"] == 1
    assert policies["steps"] == 1
    moves = list(labels.controls[0])
    assert policies["plans"] == [[[moves[p[0, 0]]]] for p in group.model.policies]
    assert len(policies["plans"]) == len(detail["q_pi"]) == len(detail["G"])


@BOTH_HOSTS
def test_a_custom_kind_names_every_step_of_every_policy(client):
    kind = {"name": "moody", "count": 2, "spec": TWO_FACTORS}
    r = client.post(f"{API}/simulations", json={"scenario": SMALL, "kinds": [kind]})
    assert r.status_code == 201, r.text
    sim = r.json()["id"]
    client.post(f"{API}/simulations/{sim}/step", json={"n": 1})
    page = client.get(f"{API}/simulations/{sim}/agents", params={"kind": "moody"}).json()
    detail = client.get(f"{API}/simulations/{sim}/agents/{page['items'][0]['id']}").json()
    assert [(b["factor"], b["states"]) for b in detail["beliefs"]] == [
        ("place", ["near", "far"]),
        ("mood", ["calm", "eager"]),
    ]
    policies = detail["policies"]
    assert policies["factors"] == ["place", "mood"]
    assert policies["horizon"] == policies["steps"] == 2
    model = compile_spec(TWO_FACTORS)
    controls = [f["controls"] for f in TWO_FACTORS["factors"]]
    expected = [
        [[controls[f][u] for f, u in enumerate(step)] for step in policy]
        for policy in model.policies.tolist()
    ]
    assert policies["plans"] == expected and len(expected) == len(detail["q_pi"]) == 100
    assert ["up", "rush"] in [step for plan in policies["plans"] for step in plan]


def test_unlabelled_models_get_generated_names():
    model = GenerativeModel.create(A=np.eye(3), B=np.stack([np.eye(3)] * 2, axis=-1))
    view = model_view(model)
    assert view.factors == ["f0"] and view.states == [["s0", "s1", "s2"]]
    assert view.policies["factors"] == ["f0"]
    assert view.policies["plans"] == [[["u0"]], [["u1"]]]


def test_big_models_name_fewer_steps():
    horizon = 8
    assert named_steps(10, horizon, 2) == horizon
    assert named_steps(MAX_POLICY_LABELS, horizon, 1) == 1
    assert named_steps(MAX_POLICY_LABELS + 1, horizon, 1) == 0
    # 4 controls over 8 steps: 65 536 policies, too many to name every step
    model = GenerativeModel.create(
        A=np.eye(2), B=np.stack([np.eye(2)] * 4, axis=-1), policy_len=horizon
    )
    policies = model_view(model).policies
    assert (policies["horizon"], policies["steps"]) == (horizon, 1)
    assert len(policies["plans"]) == model.num_policies == MAX_POLICY_LABELS
    assert policies["plans"][-1] == [["u3"]]
    assert policies["plans"] == [[[f"u{p[0, 0]}"]] for p in model.policies]


# ---------------------------------------------------------------------- knowledge graph
def _every(client, n: int) -> int:
    scenario = {**SMALL, "simulation": {"knowledge_every": n}}
    r = client.post(f"{API}/simulations", json={"scenario": scenario})
    assert r.status_code == 201, r.text
    return r.json()["id"]


@BOTH_HOSTS
def test_the_node_of_an_agent(client, sim):
    client.post(f"{API}/simulations/{sim}/step", json={"n": 1})
    base = f"{API}/simulations/{sim}/knowledge"
    node = client.get(f"{base}/agents/3")
    assert node.status_code == 200, node.text
    node = node.json()
    assert (node["type"], node["key"]) == ("agent", "3")
    assert node["properties"]["kind"] == "explorer"
    assert (node["tick"], node["as_of_tick"]) == (1, 1)
    same = client.get(f"{base}/nodes/{node['id']}").json()
    assert same == node
    agents = client.get(f"{base}/nodes", params={"type": "agent", "limit": 100}).json()["items"]
    assert sorted(int(n["key"]) for n in agents) == list(range(8))


@BOTH_HOSTS
def test_no_node_for_an_unknown_agent_is_a_404_naming_it(client, sim):
    client.post(f"{API}/simulations/{sim}/step", json={"n": 1})
    r = client.get(f"{API}/simulations/{sim}/knowledge/agents/4321")
    assert r.status_code == 404 and "agent 4321" in r.json()["detail"]


@BOTH_HOSTS
def test_no_node_yet_for_an_agent_added_since_the_fold(client):
    sim = _every(client, 5)
    base = f"{API}/simulations/{sim}"
    r = client.get(f"{base}/knowledge/agents/0")
    assert r.status_code == 404
    assert "agent 0 has no node" in r.json()["detail"] and "none yet" in r.json()["detail"]
    client.post(f"{base}/step", json={"n": 5})
    assert client.get(f"{base}/knowledge/agents/0").json()["as_of_tick"] == 5
    (added,) = client.post(f"{base}/agents", json={"kind": "explorer", "count": 1}).json()["ids"]
    client.post(f"{base}/step", json={"n": 1})
    r = client.get(f"{base}/knowledge/agents/{added}")
    assert r.status_code == 404
    detail = r.json()["detail"]
    assert f"agent {added} has no node" in detail and "every 5 ticks" in detail
    assert "last at tick 5" in detail and "at tick 6" in detail
    client.post(f"{base}/step", json={"n": 4})
    assert client.get(f"{base}/knowledge/agents/{added}").json()["key"] == str(added)


@BOTH_HOSTS
def test_knowledge_reads_say_which_tick_the_graph_reflects(client):
    sim = _every(client, 5)
    base = f"{API}/simulations/{sim}/knowledge"
    stats = client.get(f"{base}/stats").json()
    assert (stats["tick"], stats["as_of_tick"], stats["nodes"]) == (0, None, 0)
    client.post(f"{API}/simulations/{sim}/step", json={"n": 7})
    stats = client.get(f"{base}/stats").json()
    assert (stats["tick"], stats["as_of_tick"]) == (7, 5)
    node = client.get(f"{base}/agents/0").json()["id"]
    reads = [
        client.get(f"{base}/nodes", params={"type": "agent"}),
        client.get(f"{base}/nodes/{node}"),
        client.get(f"{base}/nodes/{node}/neighbours", params={"direction": "both"}),
        client.get(f"{base}/nodes/{node}/k-hop"),
        client.get(f"{base}/path", params={"src": node, "dst": node}),
    ]
    for r in reads:
        assert r.status_code == 200, r.text
        assert (r.json()["tick"], r.json()["as_of_tick"]) == (7, 5), r.url


@BOTH_HOSTS
@pytest.mark.parametrize("path", ["/knowledge/agents/0", "/knowledge/stats"])
def test_knowledge_reads_of_an_unknown_simulation_are_404(client, path):
    r = client.get(f"{API}/simulations/999{path}")
    assert r.status_code == 404 and "999" in r.json()["detail"]


def test_model_views_are_cached_while_their_model_lives():
    model = GenerativeModel.create(A=np.eye(2), B=np.stack([np.eye(2)] * 3, axis=-1))
    assert model_view(model) is model_view(model)
    held = len(_model_view._views)
    del model
    gc.collect()
    assert len(_model_view._views) == held - 1


@BOTH_HOSTS
def test_as_of_tick_travels_with_a_checkpoint(client):
    sim = _every(client, 5)
    base = f"{API}/simulations/{sim}"
    client.post(f"{base}/step", json={"n": 6})
    checkpoint = client.post(f"{base}/checkpoints").json()["id"]
    client.post(f"{base}/step", json={"n": 5})
    assert client.get(f"{base}/knowledge/stats").json()["as_of_tick"] == 10
    client.post(f"{base}/restore", json={"checkpoint_id": checkpoint})
    stats = client.get(f"{base}/knowledge/stats").json()
    assert (stats["tick"], stats["as_of_tick"]) == (6, 5)
