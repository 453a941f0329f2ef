"""GMN as the original FreeAgentics wrote it: its loose text, its JSON form, its shortcuts.

Each document here is accepted with the original's meaning and a warning naming what
was assumed; ``strict=True`` refuses the same documents, and real contradictions are
refused either way.
"""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freeagentics.errors import SpecError
from freeagentics.models import GMNWarning, compile_gmn, load_spec, parse_gmn, parse_gmn_json


def gmn(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


def compiled(source, **kwargs):
    """The model and the warnings it was compiled with."""
    notes: list[str] = []
    model = compile_gmn(source, on_warning=notes.append, **kwargs)
    return model, notes


# A request for a model followed by the model and more prose, as a language model
# answers; an LLM query node whose prompt spans lines; a belief node for D.
CHATTY = gmn(
    """
    Here is the model you asked for:

    [nodes]
    spot: state {num_states: 3}
    seen_spot: observation {num_observations: 3}
    step: action {num_actions: 3}
    spot_belief: belief {values: [0.5, 0.25, 0.25]}
    likes: preference {preferred_observation: 2}
    sees: likelihood
    moves: transition
    advisor: llm_query {
        trigger_condition: "on_observation",
        prompt_template: "Where next from {obs},
        given the map?"
    }

    [edges]
    spot -> sees: depends_on
    sees -> seen_spot: generates
    spot -> moves: depends_on
    step -> moves: depends_on
    likes -> seen_spot: depends_on
    spot_belief -> spot: depends_on
    seen_spot -> advisor: queries
    advisor -> step: updates

    Keep the model small and easy to read.
    """
)


def test_prose_around_the_sections_and_llm_nodes_are_kept_aside():
    model, notes = compiled(CHATTY)
    assert model.num_states == (3,) and model.num_obs == (3,) and model.num_controls == (3,)
    np.testing.assert_array_equal(model.A[0], np.eye(3))
    np.testing.assert_allclose(model.D[0], [0.5, 0.25, 0.25])
    np.testing.assert_array_equal(model.C[0], [0.0, 0.0, 1.0])
    text = "\n".join(notes)
    assert "line 1: 1 line(s) before the first section header were skipped" in text
    assert "a line of prose was skipped" in text
    assert "llm_query node 'advisor' carries no model array; kept as metadata" in text
    graph = parse_gmn(CHATTY)
    advisor = graph.node("advisor")
    assert advisor.type == "llm_query"
    assert "Where next from {obs}," in advisor.props["text"]  # unreadable props kept raw
    assert {(e.source, e.target, e.type) for e in graph.edges} >= {
        ("seen_spot", "advisor", "queries"),
        ("advisor", "step", "updates"),
    }


def test_a_state_linked_straight_to_its_observation_is_an_identity():
    text = gmn(
        """
        [nodes]
        where: state {num_states: 4}
        where_seen: observation {num_observations: 4}
        go: action {num_actions: 5}
        [edges]
        where -> where_seen: generates
        go -> where: influences
        """
    )
    model, notes = compiled(text)
    np.testing.assert_array_equal(model.A[0], np.eye(4))
    assert model.A_deps == ((0,),)
    assert model.num_controls == (5,)
    np.testing.assert_array_equal(model.B[0], np.repeat(np.eye(4)[..., None], 5, axis=2))
    assert notes == [
        "line 3: observation 'where_seen' is linked straight to 'where' with no likelihood "
        "node; its likelihood is the identity"
    ]


def test_a_straight_link_between_different_sizes_is_uniform():
    text = "[nodes]\ns: state {num_states: 5}\no: observation {num_observations: 3}\n"
    text += "a: action {num_actions: 4}\n[edges]\ns -> o: depends_on\n"
    model, notes = compiled(text)
    np.testing.assert_allclose(model.A[0], np.full((3, 5), 1 / 3))
    assert any("sizes differ: uniform likelihood" in n for n in notes)
    # the one action is tied to the one factor, as the original's single-factor models were
    assert model.num_controls == (4,)
    assert any("action 'a' controls no factor; it controls 's'" in n for n in notes)


def test_transitions_tied_to_nothing_belong_to_the_only_factor():
    text = gmn(
        """
        [nodes]
        s: state {num_states: 2}
        o: observation {num_observations: 2}
        a: action {num_actions: 2}
        L: likelihood
        T: transition {matrix: [[[0, 1], [0, 1]], [[1, 0], [1, 0]]]}
        [edges]
        s -> L: depends_on
        L -> o: generates
        """
    )
    model, notes = compiled(text)
    np.testing.assert_array_equal(model.B[0][:, :, 0], [[0, 0], [1, 1]])
    assert any("transition 'T' is tied to no factor; 's'" in n for n in notes)
    two = text.replace("a: action", "t: state {num_states: 2}\na: action")
    model, notes = compiled(two)
    assert any("transition 'T' is tied to no factor; ignored" in n for n in notes)
    assert any("action 'a' controls no factor and is ignored" in n for n in notes)
    np.testing.assert_array_equal(model.B[0][:, :, 0], np.eye(2))


def test_without_a_callback_the_caveats_are_python_warnings():
    with pytest.warns(GMNWarning, match="linked straight to 'where'"):
        compile_gmn(
            "[nodes]\nwhere: state {num_states: 2}\nseen: observation {num_observations: 2}\n"
            "[edges]\nwhere -> seen: generates\n"
        )


LOOSE = [
    (CHATTY, "line 1", "expected a [nodes] or [edges] section header first"),
    (
        "[nodes]\ns: state {num_states: 2}\no: observation {num_observations: 2}\n"
        "[edges]\ns -> o: generates\n",
        "line 3",
        "linked straight to 's'",
    ),
    (
        "[nodes]\ns: state\no: observation {num_observations: 1}\n[edges]\ns -> o: generates\n",
        "line 2",
        "gives neither num_states nor states",
    ),
    (
        "[nodes]\ns: state {num_states: 2}\no: observation {num_observations: 2}\n"
        "q: llm_query {prompt_template: 'x'}\n[edges]\ns -> o: generates\n",
        "line 4",
        "carries no model array",
    ),
    (
        "[nodes]\ns: state {num_states: 2}\nt: state {num_states: 2}\n"
        "o: observation {num_observations: 2}\n[edges]\ns -> o: generates\nt -> s: depends_on\n",
        "line 7",
        "links state to state, which has no meaning",
    ),
]


@pytest.mark.parametrize(("text", "path", "fragment"), LOOSE)
def test_strict_refuses_what_lenient_accepts(text, path, fragment):
    compiled(text)  # lenient: compiles
    with pytest.raises(SpecError) as info:
        compile_gmn(text, strict=True)
    assert info.value.path == path
    assert fragment in str(info.value)


def test_contradictions_are_refused_even_when_lenient():
    """The original built an A that contradicted its observation's size; we refuse it."""
    spec = {
        "nodes": [
            {"id": "s", "type": "state", "properties": {"num_states": 2}},
            {"id": "o", "type": "observation", "properties": {"num_observations": 3}},
            {"id": "L", "type": "likelihood", "properties": {"matrix": [[1, 0], [0, 1]]}},
        ],
        "edges": [
            {"source": "s", "target": "L", "type": "depends_on"},
            {"source": "L", "target": "o", "type": "generates"},
        ],
    }
    with pytest.raises(SpecError) as info:
        compile_gmn(spec)
    assert info.value.path == "nodes[2] (L)"
    assert "L.matrix has shape (2, 2), expected (3, 2)" in str(info.value)


# ---------------------------------------------------------------- the JSON form
FORAGER = {
    "name": "forager",
    "description": "finds food on a ring of four places",
    "nodes": [
        {"id": "place", "type": "state", "properties": {"num_states": 4}},
        {"id": "smell", "type": "observation", "properties": {"num_observations": 4}},
        {"id": "walk", "type": "action", "properties": {"num_actions": 2}},
        {"id": "nose", "type": "likelihood", "properties": {"kind": "identity", "noise": 0.2}},
        {"id": "ring", "type": "transition", "metadata": {"author": "test"}},
        {"id": "hungry", "type": "preference", "properties": {"values": [0, 0, 0, 3]}},
        {"id": "start", "type": "belief", "properties": {"initial_state": 0}},
    ],
    "edges": [
        {"source": "place", "target": "nose", "type": "depends_on"},
        {"source": "nose", "target": "smell", "type": "generates"},
        {"source": "place", "target": "ring"},  # type defaults to depends_on
        {"source": "walk", "target": "ring", "type": "depends_on"},
        {"source": "hungry", "target": "smell", "type": "depends_on"},
        {"source": "start", "target": "place", "type": "depends_on", "properties": {"w": 1}},
    ],
    "metadata": {"version": "1.0"},
}

FORAGER_TEXT = gmn(
    """
    [nodes]
    place: state {num_states: 4}
    smell: observation {num_observations: 4}
    walk: action {num_actions: 2}
    nose: likelihood {kind: identity, noise: 0.2}
    ring: transition
    hungry: preference {values: [0, 0, 0, 3]}
    start: prior {initial_state: 0}
    [edges]
    place -> nose: depends_on
    nose -> smell: generates
    place -> ring: depends_on
    walk -> ring: depends_on
    hungry -> smell: depends_on
    start -> place: depends_on {w: 1}
    """
)


def assert_same_model(x, y):
    for a, b in zip(x.A + x.B + x.C + x.D, y.A + y.B + y.C + y.D, strict=True):
        np.testing.assert_array_equal(a, b)
    assert x.labels == y.labels


@pytest.mark.parametrize("form", ["object", "json text"])
def test_the_json_form_compiles_like_the_text_form(form):
    source = FORAGER if form == "object" else json.dumps(FORAGER, indent=2)
    model, notes = compiled(source)
    assert notes == []
    assert_same_model(model, compile_gmn(FORAGER_TEXT))
    graph = parse_gmn(source)
    assert graph.metadata == {
        "name": "forager",
        "description": "finds food on a ring of four places",
        "metadata": {"version": "1.0"},
    }
    assert graph.node("ring").metadata == {"author": "test"}
    assert graph.edges[-1].props == {"w": 1}


def test_a_json_file_of_nodes_and_edges_loads_as_gmn(tmp_path):
    path = tmp_path / "forager.json"
    path.write_text(json.dumps(FORAGER))
    assert_same_model(load_spec(path), compile_gmn(FORAGER_TEXT))


def test_json_nodes_without_sizes_or_types_default_as_the_original_did():
    model, notes = compiled(
        {
            "nodes": [{"id": "here"}, {"id": "seen", "type": "observation"}],
            "edges": [{"source": "here", "target": "seen", "type": "generates"}],
        }
    )
    assert model.num_states == (1,) and model.num_obs == (1,)
    assert "nodes[0] (here): 'here' gives neither num_states nor states; size 1" in notes


JSON_ERRORS = [
    ([], "document", "expected a GMN document (an object), got list"),
    ({"nodes": []}, "edges", "missing: the JSON form needs both 'nodes' and 'edges'"),
    ({"nodes": {}, "edges": []}, "nodes", "expected a list, got dict"),
    ({"nodes": [{"type": "state"}], "edges": []}, "nodes[0]", "missing 'id'"),
    ({"nodes": [{"id": "1x"}], "edges": []}, "nodes[0].id", "expected an identifier"),
    ({"nodes": [{"id": "x"}, {"id": "x"}], "edges": []}, "nodes[1]", "already declared at"),
    ({"nodes": [{"id": "x", "type": "stat"}], "edges": []}, "nodes[0].type", "unknown node type"),
    ({"nodes": [{"id": "x", "properties": [1]}], "edges": []}, "nodes[0].properties", "object"),
    ({"nodes": [{"id": "x"}], "edges": [{"source": "x"}]}, "edges[0]", "missing 'target'"),
    (
        {"nodes": [{"id": "x"}], "edges": [{"source": "x", "target": "y"}]},
        "edges[0].target",
        "edge names unknown node 'y'",
    ),
    (
        {"nodes": [{"id": "x"}], "edges": [{"source": "x", "target": "x", "type": "causes"}]},
        "edges[0].type",
        "unknown edge type 'causes'",
    ),
    ('{"nodes": [\n{"id": "x"}', "line 2", "invalid JSON"),
]


@pytest.mark.parametrize(("spec", "path", "fragment"), JSON_ERRORS)
def test_json_form_errors_name_their_place(spec, path, fragment):
    with pytest.raises(SpecError) as info:
        parse_gmn_json(spec)
    assert info.value.path == path
    assert fragment in str(info.value)


def test_unknown_json_keys_are_noted_or_refused_when_strict():
    spec = {"nodes": [{"id": "s", "colour": "red"}], "edges": [], "owner": "me"}
    assert [w[0] for w in parse_gmn_json(spec).warnings] == ["document", "nodes[0]"]
    with pytest.raises(SpecError, match="unknown key"):
        parse_gmn_json(spec, strict=True)


# ---------------------------------------------------------------- both forms agree
@st.composite
def small_graphs(draw):
    """A random well-formed model as (nodes, edges) of the JSON form."""
    n_factors = draw(st.integers(1, 3))
    n_modalities = draw(st.integers(1, 3))
    nodes, edges = [], []
    for f in range(n_factors):
        nodes.append(
            {"id": f"s{f}", "type": "state", "properties": {"num_states": draw(st.integers(1, 4))}}
        )
        if draw(st.booleans()):
            nodes.append(
                {
                    "id": f"u{f}",
                    "type": "action",
                    "properties": {"num_actions": draw(st.integers(1, 3))},
                }
            )
            nodes.append({"id": f"T{f}", "type": "transition"})
            edges += [
                {"source": f"s{f}", "target": f"T{f}", "type": "depends_on"},
                {"source": f"u{f}", "target": f"T{f}", "type": "depends_on"},
            ]
    for m in range(n_modalities):
        size = draw(st.integers(1, 4))
        nodes.append(
            {"id": f"o{m}", "type": "observation", "properties": {"num_observations": size}}
        )
        deps = draw(
            st.lists(st.integers(0, n_factors - 1), min_size=1, max_size=n_factors, unique=True)
        )
        nodes.append({"id": f"L{m}", "type": "likelihood", "properties": {"kind": "uniform"}})
        edges += [{"source": f"s{f}", "target": f"L{m}", "type": "depends_on"} for f in deps]
        edges.append({"source": f"L{m}", "target": f"o{m}", "type": "generates"})
        if draw(st.booleans()):
            values = draw(st.lists(st.integers(-3, 3), min_size=size, max_size=size))
            nodes.append({"id": f"C{m}", "type": "preference", "properties": {"values": values}})
            edges.append({"source": f"C{m}", "target": f"o{m}", "type": "depends_on"})
    return {"nodes": nodes, "edges": edges}


def as_text(spec) -> str:
    def props(entry):
        return (" " + json.dumps(entry["properties"])) if entry.get("properties") else ""

    lines = ["[nodes]"]
    lines += [f"{n['id']}: {n['type']}{props(n)}" for n in spec["nodes"]]
    lines.append("[edges]")
    lines += [f"{e['source']} -> {e['target']}: {e['type']}" for e in spec["edges"]]
    return "\n".join(lines)


@settings(max_examples=60, deadline=None)
@given(small_graphs())
def test_text_and_json_forms_of_one_graph_compile_to_the_same_model(spec):
    from_json, notes_json = compiled(spec)
    from_text, notes_text = compiled(as_text(spec))
    assert_same_model(from_json, from_text)
    assert notes_json == notes_text == []
