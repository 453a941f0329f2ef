"""The GMN text form: parsing, compiling with defaults, and errors with line numbers."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from freeagentics.errors import SpecError
from freeagentics.models import (
    GMNEdge,
    GMNGraph,
    GMNNode,
    _gmn,
    compile_gmn,
    load_spec,
    parse_gmn,
    spec_to_dict,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "models"


def gmn(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


def docstring_example() -> str:
    doc = _gmn.__doc__
    block = doc[doc.index("::") + 2 : doc.index("Node types")]
    return textwrap.dedent(block)


SMALL = gmn(
    """
    [nodes]
    place: state {num_states: 3}
    seen: observation {num_observations: 3}
    A: likelihood
    [edges]
    place -> A: depends_on
    A -> seen: generates
    """
)


# ---------------------------------------------------------------- parsing
def test_parse_keeps_nodes_edges_props_and_lines():
    graph = parse_gmn(
        gmn(
            """
            # a comment before any section

            [nodes]
            here: state {"states": ["a", "b"]}   # JSON props, trailing comment
            move: action {actions: [go-left, 'go right'], note: "x # not a comment"}
            see: observation {num_observations: 2, extra: [1, 2.5, -3e-1, true, null]}
            L: likelihood

            [edges]
            here -> L: depends_on   # comment
            L -> see: generates
            move -> here: influences
            """
        )
    )
    assert isinstance(graph, GMNGraph)
    assert graph.nodes[0] == GMNNode("here", "state", {"states": ["a", "b"]}, 4)
    assert graph.node("move").props == {
        "actions": ["go-left", "go right"],
        "note": "x # not a comment",
    }
    assert graph.node("see").props["extra"] == [1, 2.5, -0.3, True, None]
    assert graph.node("L").props == {}
    assert graph.edges == (
        GMNEdge("here", "L", "depends_on", 10),
        GMNEdge("L", "see", "generates", 11),
        GMNEdge("move", "here", "influences", 12),
    )
    assert [n.id for n in graph.of_type("state")] == ["here"]


def test_props_may_span_lines_and_belief_is_prior():
    graph = parse_gmn(
        gmn(
            """
            [nodes]
            x: state {states: [a, b],   # first line
                      num_states: 2}
            D: belief {values: [0.25, 0.75]}
            [edges]
            D -> x: depends_on
            """
        )
    )
    assert graph.node("x").props == {"states": ["a", "b"], "num_states": 2}
    assert graph.node("x").line == 2
    assert graph.node("D").type == "prior"
    assert graph.node("D").line == 4


# ---------------------------------------------------------------- compiling
def test_docstring_example_compiles_to_the_tiger():
    model = compile_gmn(docstring_example())
    assert model.labels.factors == ("location", "context")
    assert model.labels.modalities == ("hearing", "where")
    assert model.labels.controls == (("stay", "go_left", "go_right"), ())
    assert model.A_deps == ((1,), (0,))
    assert model.B_deps == ((0,), (1,))
    assert model.control_factors == (0,)
    assert np.allclose(model.A[0], [[0.85, 0.15], [0.15, 0.85]])
    assert np.array_equal(model.A[1], np.eye(3))
    # go_left from anywhere reaches "left"; stay keeps the state
    assert np.array_equal(model.B[0][:, :, 1], [[0, 0, 0], [1, 1, 1], [0, 0, 0]])
    assert np.array_equal(model.B[0][:, :, 0], np.eye(3))
    assert np.array_equal(model.B[1][:, :, 0], np.eye(2))
    assert np.array_equal(model.C[1], [0.0, 1.0, -1.0])
    assert np.array_equal(model.C[0], [0.0, 0.0])
    assert np.array_equal(model.D[0], [1.0, 0.0, 0.0])
    assert np.array_equal(model.D[1], [0.5, 0.5])


def test_gmn_example_file_matches_the_json_tiger_where_they_agree():
    from_gmn = load_spec(EXAMPLES / "tiger.gmn")
    from_json = load_spec(EXAMPLES / "tiger.json")
    assert np.array_equal(from_gmn.B[0], from_json.B[0])
    assert np.array_equal(from_gmn.D[0], from_json.D[0])
    assert from_gmn.labels.states == from_json.labels.states
    assert np.array_equal(from_gmn.C[0], [0.0, 0.5, 0.0, 0.0])  # preferred at_listening


def test_defaults_where_the_gmn_gives_only_structure():
    model = compile_gmn(
        gmn(
            """
            [nodes]
            a: state {num_states: 2}
            b: state {num_states: 3}
            go: action {num_actions: 2}
            o: observation {num_observations: 4}
            L: likelihood
            [edges]
            a -> L: depends_on
            b -> L: depends_on
            L -> o: generates
            go -> a: influences
            """
        ),
        policy_len=2,
    )
    assert np.array_equal(model.A[0], np.full((4, 2, 3), 0.25))  # two factors: uniform
    assert model.A_deps == ((0, 1),)
    assert np.array_equal(model.B[0], np.stack([np.eye(2)] * 2, axis=-1))  # identity
    assert np.array_equal(model.B[1], np.eye(3)[:, :, None])
    assert np.array_equal(model.D[1], np.full(3, 1 / 3))
    assert np.array_equal(model.C[0], np.zeros(4))
    assert model.labels.states == (("s0", "s1"), ("s0", "s1", "s2"))
    assert model.labels.controls == (("u0", "u1"), ())
    assert model.policies.shape == (4, 2, 2)


def test_likelihood_without_dependencies_depends_on_every_factor():
    model = compile_gmn(
        gmn(
            """
            [nodes]
            a: state {num_states: 2}
            b: state {num_states: 2}
            o: observation {num_observations: 2}
            L: likelihood {kind: uniform}
            [edges]
            L -> o: generates
            """
        )
    )
    assert model.A_deps == ((0, 1),)


def test_transition_with_several_dependencies_and_identity_on_its_factor():
    model = compile_gmn(
        gmn(
            """
            [nodes]
            a: state {num_states: 2}
            b: state {num_states: 3}
            o: observation {num_observations: 2}
            L: likelihood
            T: transition
            [edges]
            a -> L: depends_on
            L -> o: generates
            b -> T: depends_on
            a -> T: depends_on
            T -> a: generates
            """
        )
    )
    assert model.B_deps == ((1, 0), (1,))
    B = model.B[0]  # (next a, b, a, control)
    assert B.shape == (2, 3, 2, 1)
    for b in range(3):
        assert np.array_equal(B[:, b, :, 0], np.eye(2))


def test_matrix_props_in_pymdp_axis_order_and_named_preferences():
    model = compile_gmn(
        gmn(
            """
            [nodes]
            s: state {states: [on, off]}
            flip: action {actions: [keep, toggle]}
            o: observation {outcomes: [bright, dark]}
            L: likelihood {matrix: [[0.9, 0.2], [0.1, 0.8]]}
            T: transition {matrix: [[[1, 0], [0, 1]], [[0, 1], [1, 0]]]}
            C: preference {preferred_observation: dark, strength: 2.5}
            D: prior {values: [0.3, 0.7]}
            [edges]
            s -> L: depends_on
            L -> o: generates
            s -> T: depends_on
            flip -> T: depends_on
            o -> C: depends_on
            s -> D: depends_on
            """
        )
    )
    assert np.array_equal(model.A[0], [[0.9, 0.2], [0.1, 0.8]])
    assert np.array_equal(model.B[0][:, :, 1], [[0, 1], [1, 0]])
    assert np.array_equal(model.C[0], [0.0, 2.5])
    assert np.array_equal(model.D[0], [0.3, 0.7])
    assert model.labels.controls == (("keep", "toggle"),)


def test_gmn_model_round_trips_through_the_named_spec():
    from freeagentics.models import compile_spec

    model = compile_gmn(docstring_example())
    again = compile_spec(spec_to_dict(model))
    for x, y in zip(model.A + model.B + model.D, again.A + again.B + again.D, strict=True):
        assert np.array_equal(x, y)
    assert again.labels == model.labels


# ---------------------------------------------------------------- errors
ERRORS = [
    ("[nodes]\nx state\n", "line 2", "expected 'id: type {props}'"),
    ("x: state {num_states: 2}\n", "line 1", "expected a [nodes] or [edges] section header"),
    ("[nodez]\n", "line 1", "unknown section [nodez]"),
    ("[nodes]\nx: stat {num_states: 2}\n", "line 2", "unknown node type 'stat'"),
    ("[nodes]\nx: state\nx: state\n", "line 3", "node 'x' is already declared on line 2"),
    ("[nodes]\nx: state\n[edges]\nx -> y: depends_on\n", "line 4", "edge names unknown node 'y'"),
    (
        "[nodes]\nx: state\ny: state\n[edges]\nx -> y: causes\n",
        "line 5",
        "unknown edge type 'causes'",
    ),
    (
        "[nodes]\nx: state\n[edges]\nx => x: depends_on\n",
        "line 4",
        "expected 'source -> target: edge_type'",
    ),
    ("[nodes]\nx: state\nx -> x: depends_on\n", "line 3", "an edge line in the [nodes] section"),
    ("[nodes]\nx: state\n[edges]\ny: state\n", "line 4", "a node line in the [edges] section"),
    ("[nodes]\n\nx: state {num_states 2}\n", "line 3", "column 22: expected ':'"),
    ("[nodes]\nx: state {num_states: 2,, }\n", "line 2", "column 25: expected a key"),
    ("[nodes]\nx: state {states: [a, b}\n", "line 2", "expected ',' or ']', found '}'"),
    ("[nodes]\nx: state {num_states: 2} extra\n", "line 2", "unexpected 'e' after the properties"),
    ("[nodes]\nx: state {states: ['a]}\n", "line 2", "unterminated string"),
    ("[nodes]\nx: state {a: 1, a: 2}\n", "line 2", "duplicated key 'a'"),
    ("[nodes]\nx: state {states: [a,\n   b\n", "line 2", "column 19: this '[' is never closed"),
    ("[nodes]\nx: state junk\n", "line 2", "expected '{props}' or the end of the line"),
]


@pytest.mark.parametrize(("text", "path", "fragment"), ERRORS)
def test_parse_errors_name_the_line(text, path, fragment):
    with pytest.raises(SpecError) as info:
        parse_gmn(text)
    assert info.value.path == path
    assert str(info.value).startswith(f"{path}: ")
    assert fragment in str(info.value)


HEAD = "[nodes]\ns: state {num_states: 2}\no: observation {num_observations: 2}\n"
LINKED = HEAD + "L: likelihood\n[edges]\ns -> L: depends_on\nL -> o: generates\n"

COMPILE_ERRORS = [
    (
        HEAD + "L: likelihood\n[edges]\ns -> L: depends_on\n",
        "line 4",
        "likelihood 'L' generates no observation and is ignored",
    ),
    (HEAD, "line 3", "observation 'o' has no likelihood"),
    (
        HEAD + "L: likelihood\nK: likelihood\n[edges]\nL -> o: generates\nK -> o: generates\n",
        "line 8",
        "observation 'o' already has a likelihood",
    ),
    (LINKED + "o -> L: depends_on\n", "line 8", "links observation to likelihood, which has no"),
    (LINKED + "s -> L: depends_on\n", "line 8", "repeats the edge of line 6"),
    (
        LINKED.replace("L: likelihood", "L: likelihood {kind: identity, noise: 1.5}"),
        "line 4",
        "L.noise: noise is a probability",
    ),
    (
        LINKED.replace("L: likelihood", "L: likelihood {matrix: [[0.5, 0.5], [0.4, 0.5]]}"),
        "line 4",
        "L.matrix[:, 0] sums to 0.9",
    ),
    (
        LINKED.replace("L: likelihood", "L: likelihood {matrix: [[1, 0]]}"),
        "line 4",
        "L.matrix has shape (1, 2), expected (2, 2)",
    ),
    (
        LINKED.replace("L: likelihood", "L: likelihood {matrix: [[1, 0], [0]]}"),
        "line 4",
        "expected a rectangular nested list",
    ),
    (
        LINKED.replace("L: likelihood", "L: likelihood {kind: diagonal}"),
        "line 4",
        "L.kind: expected 'identity' or 'uniform', got 'diagonal'",
    ),
    (
        LINKED.replace("L: likelihood", "L: likelihood {nosie: 0.1}"),
        "line 4",
        "unknown key 'nosie'; allowed keys: 'matrix', 'kind', 'noise'",
    ),
    (
        LINKED.replace(
            "o: observation {num_observations: 2}", "o: observation {num_observations: 3}"
        ).replace("L: likelihood", "L: likelihood {kind: identity}"),
        "line 4",
        "'identity' needs one dependency factor with as many states as outcomes",
    ),
    (
        LINKED.replace("s: state {num_states: 2}", "s: state {num_states: 3, states: [a, b]}"),
        "line 2",
        "num_states is 3 but states lists 2",
    ),
    (
        LINKED.replace("s: state {num_states: 2}", "s: state"),
        "line 2",
        "'s' gives neither num_states nor states; size 1 (refused: strict)",
    ),
    (
        LINKED.replace("[edges]", "C: preference {values: [1, 2]}\n[edges]"),
        "line 5",
        "preference 'C' is linked to no observation",
    ),
    (
        LINKED.replace("[edges]", "C: preference {values: [1]}\n[edges]") + "C -> o: depends_on\n",
        "line 5",
        "C.values: has 1 entries, expected 2",
    ),
    (
        LINKED.replace("[edges]", "C: preference {strength: 2}\n[edges]") + "C -> o: depends_on\n",
        "line 5",
        "'strength' goes with 'preferred_observation'",
    ),
    (
        LINKED.replace("[edges]", "D: prior {values: [0.5, 0.6]}\n[edges]")
        + "D -> s: depends_on\n",
        "line 5",
        "D.values sums to 1.1",
    ),
    (
        LINKED.replace("[edges]", "D: prior {initial_state: 5}\n[edges]") + "D -> s: depends_on\n",
        "line 5",
        "index 5 is out of range 0..1",
    ),
    (
        LINKED.replace("[edges]", "D: prior {initial_state: zz}\n[edges]") + "D -> s: depends_on\n",
        "line 5",
        "'zz' is not one of s0, s1",
    ),
    (
        LINKED.replace("[edges]", "D: prior\nE: prior\n[edges]")
        + "D -> s: depends_on\nE -> s: depends_on\n",
        "line 6",
        "'s' already has a prior on line 5",
    ),
    (
        LINKED.replace("[edges]", "go: action {num_actions: 2}\n[edges]"),
        "line 5",
        "action 'go' controls no factor",
    ),
    (
        LINKED.replace("[edges]", "t: state {num_states: 2}\ngo: action {num_actions: 2}\n[edges]")
        + "go -> s: influences\ngo -> t: influences\n",
        "line 11",
        "action 'go' already controls 's' (line 10)",
    ),
    (
        LINKED.replace("[edges]", "t: state {num_states: 2}\nT: transition\n[edges]")
        + "s -> T: depends_on\nt -> T: depends_on\n",
        "line 6",
        "transition 'T' does not say which factor it is for",
    ),
    (
        LINKED.replace("[edges]", "T: transition\nU: transition\n[edges]")
        + "s -> T: depends_on\ns -> U: depends_on\n",
        "line 6",
        "'s' already has a transition on line 5",
    ),
    (
        LINKED.replace(
            "[edges]", "t: state {num_states: 2}\nT: transition {kind: identity}\n[edges]"
        )
        + "t -> T: depends_on\nT -> s: generates\n",
        "line 6",
        "'identity' needs the factor among its dependencies",
    ),
]


@pytest.mark.parametrize(("text", "path", "fragment"), COMPILE_ERRORS)
def test_compile_errors_name_the_line(text, path, fragment):
    """Errors, and (with ``strict``) what the lenient mode would accept with a warning."""
    with pytest.raises(SpecError) as info:
        compile_gmn(text, strict=True)
    assert info.value.path == path
    assert str(info.value).startswith(f"{path}: ")
    assert fragment in str(info.value)


def test_a_model_needs_states_and_observations():
    with pytest.raises(SpecError, match="no 'state' node"):
        compile_gmn("[nodes]\no: observation {num_observations: 2}\n")
    with pytest.raises(SpecError, match="no 'observation' node"):
        compile_gmn("[nodes]\ns: state {num_states: 2}\n")


def test_gmn_file_errors_carry_the_file_name(tmp_path):
    path = tmp_path / "broken.gmn"
    path.write_text(SMALL.replace("A -> seen: generates", "A -> sen: generates"))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value).startswith("broken.gmn: line 7: edge names unknown node 'sen'")
    assert info.value.path == "line 7"


def test_compile_accepts_a_parsed_graph():
    graph = parse_gmn(SMALL)
    assert np.array_equal(compile_gmn(graph).A[0], np.eye(3))
