"""The named specification: compiling, exporting, file loading and every error path."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freeagentics.errors import ModelError, SpecError
from freeagentics.models import (
    GenerativeModel,
    compile_spec,
    load_spec,
    read_spec,
    spec_to_dict,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "models"


def tiger_spec() -> dict:
    return read_spec(EXAMPLES / "tiger.json")


def assert_same_model(a: GenerativeModel, b: GenerativeModel) -> None:
    for name in ("A", "B", "C", "D"):
        for x, y in zip(getattr(a, name), getattr(b, name), strict=True):
            assert x.shape == y.shape and np.array_equal(x, y), name
    assert np.array_equal(a.E, b.E)
    assert np.array_equal(a.policies, b.policies)
    assert a.A_deps == b.A_deps and a.B_deps == b.B_deps
    assert a.control_factors == b.control_factors


# ---------------------------------------------------------------- the tiger, entry by entry
def test_tiger_arrays_match_hand_computed_values():
    model = load_spec(EXAMPLES / "tiger.json")
    start, listening, opened_left, opened_right = range(4)
    tiger_left, tiger_right = range(2)
    hearing, reward, position = model.A

    assert model.num_states == (4, 2)
    assert model.num_obs == (3, 3, 4)
    assert model.num_controls == (4, 1)
    assert model.A_deps == ((0, 1), (0, 1), (0,))
    assert model.B_deps == ((0,), (1,))
    assert model.control_factors == (0,)

    # hearing: outcomes silence, growl_left, growl_right
    expected_hearing = np.zeros((3, 4, 2))
    expected_hearing[0] = 1.0
    expected_hearing[:, listening, tiger_left] = [0.0, 0.85, 0.15]
    expected_hearing[:, listening, tiger_right] = [0.0, 0.15, 0.85]
    assert np.array_equal(hearing, expected_hearing)

    # reward: outcomes neutral, treasure, tiger
    expected_reward = np.zeros((3, 4, 2))
    expected_reward[0, start, :] = 1.0
    expected_reward[0, listening, :] = 1.0
    expected_reward[2, opened_left, tiger_left] = 1.0
    expected_reward[1, opened_left, tiger_right] = 1.0
    expected_reward[1, opened_right, tiger_left] = 1.0
    expected_reward[2, opened_right, tiger_right] = 1.0
    assert np.array_equal(reward, expected_reward)
    assert np.array_equal(position, np.eye(4))

    # B[location][next, current, control]; controls stay, listen, open_left, open_right
    B = model.B[0]
    assert B.shape == (4, 4, 4)
    assert np.array_equal(B[:, :, 0], np.eye(4))
    for control, target in ((1, listening), (2, opened_left), (3, opened_right)):
        expected = np.zeros((4, 4))
        expected[target, :] = 1.0
        assert np.array_equal(B[:, :, control], expected)
    assert np.array_equal(model.B[1], np.eye(2)[:, :, None])

    assert np.array_equal(model.C[1], [0.0, 3.0, -6.0])
    assert np.array_equal(model.C[0], np.zeros(3))
    assert np.array_equal(model.D[0], [1.0, 0.0, 0.0, 0.0])
    assert np.array_equal(model.D[1], [0.5, 0.5])
    assert model.policies.shape == (16, 2, 2)
    assert np.array_equal(model.E, np.full(16, 1 / 16))


def test_tiger_labels_keep_every_name():
    labels = load_spec(EXAMPLES / "tiger.json").labels
    assert labels.factors == ("location", "context")
    assert labels.states[0] == ("start", "listening", "opened_left", "opened_right")
    assert labels.controls == (("stay", "listen", "open_left", "open_right"), ())
    assert labels.modalities == ("hearing", "reward", "position")
    assert labels.outcomes[1] == ("neutral", "treasure", "tiger")


def test_toml_and_json_examples_are_the_same_model():
    from_json = load_spec(EXAMPLES / "tiger.json")
    from_toml = load_spec(EXAMPLES / "tiger.toml")
    assert_same_model(from_json, from_toml)
    assert from_json.labels == from_toml.labels


def test_foraging_example_transition_depends_on_another_factor():
    model = load_spec(EXAMPLES / "foraging.toml")
    assert model.B_deps == ((0,), (1, 0))
    energy = model.B[1]  # (next energy, energy, patch, control)
    assert energy.shape == (2, 2, 3, 1)
    low, high = 0, 1
    nest, bush, meadow = 0, 1, 2
    assert np.array_equal(energy[:, low, bush, 0], [0.2, 0.8])
    assert np.array_equal(energy[:, high, nest, 0], [0.3, 0.7])
    assert np.array_equal(energy[:, high, meadow, 0], [0.0, 1.0])
    # deterministic moves; unlisted from-states (and "stay") keep the patch
    patch = model.B[0]
    assert np.array_equal(patch[:, :, 0], np.eye(3))
    assert np.array_equal(patch[:, :, 1], [[1, 1, 1], [0, 0, 0], [0, 0, 0]])
    assert np.array_equal(patch[:, meadow, 2], [0, 1, 0])
    # identity with noise 0.1: 0.9 on the diagonal, 0.05 on each other outcome
    assert np.allclose(model.A[0], np.full((3, 3), 0.05) + np.eye(3) * 0.85)
    # habits {0: 2}, unlisted policies weigh 1: normalised over 2 + 3
    assert np.allclose(model.E, [0.4, 0.2, 0.2, 0.2])


# ---------------------------------------------------------------- round trips
@pytest.mark.parametrize("name", ["tiger.json", "tiger.toml", "foraging.toml", "tiger.gmn"])
def test_round_trip_gives_identical_arrays(name):
    model = load_spec(EXAMPLES / name)
    spec = spec_to_dict(model)
    again = compile_spec(json.loads(json.dumps(spec)))  # survives JSON too
    assert_same_model(model, again)
    assert again.labels == model.labels
    assert spec_to_dict(again) == spec


def test_round_trip_uses_shorthands_where_exact():
    spec = spec_to_dict(load_spec(EXAMPLES / "foraging.toml"))
    assert spec["modalities"][0]["likelihood"] == "identity"
    assert spec["modalities"][0]["noise"] == 0.1
    assert spec["factors"][1]["transitions"]["depends_on"] == ["energy", "patch"]
    assert spec["factors"][1]["initial"] == "uniform"


def test_unlabelled_model_gets_generated_names_and_round_trips():
    rng = np.random.default_rng(3)

    def columns(shape):
        x = rng.random(shape)
        return x / x.sum(axis=0)

    model = GenerativeModel.create(
        [columns((3, 2, 4)), columns((2, 4))],
        [columns((2, 2, 3)), columns((4, 4, 2, 1))],
        C=[np.array([0.0, 1.5, -2.0]), np.zeros(2)],
        D=[np.array([0.25, 0.75]), np.full(4, 0.25)],
        A_deps=[[0, 1], [1]],
        B_deps=[[0], [1, 0]],
        policy_len=2,
    )
    spec = spec_to_dict(model)
    assert [f["name"] for f in spec["factors"]] == ["f0", "f1"]
    assert spec["factors"][0]["states"] == ["s0", "s1"]
    assert spec["factors"][0]["controls"] == ["u0", "u1", "u2"]
    assert "controls" not in spec["factors"][1]  # one unnamed control: uncontrolled
    assert spec["modalities"][1]["outcomes"] == ["o0", "o1"]
    assert spec["modalities"][1]["depends_on"] == ["f1"]
    assert spec["factors"][1]["transitions"]["depends_on"] == ["f1", "f0"]
    again = compile_spec(spec)
    assert_same_model(model, again)
    assert again.labels.states[1] == ("s0", "s1", "s2", "s3")


def test_explicit_policies_and_habits_round_trip():
    spec = tiger_spec()
    spec["policies"] = [
        [{"location": "listen"}, {"location": "open_left"}],
        [{"location": "listen"}, {"location": "open_right"}],
        ["stay", "stay"],  # a bare control: only one factor is controllable
    ]
    spec["habits"] = {"2": 3.0}
    model = compile_spec(spec)
    assert model.policies.tolist() == [[[1, 0], [2, 0]], [[1, 0], [3, 0]], [[0, 0], [0, 0]]]
    assert np.allclose(model.E, [0.2, 0.2, 0.6])
    assert model.policy_len == 2
    exported = spec_to_dict(model)
    assert exported["policies"][0] == [{"location": "listen"}, {"location": "open_left"}]
    assert_same_model(model, compile_spec(exported))


def test_export_rejects_a_multi_control_factor_that_is_not_controllable():
    model = GenerativeModel.create(
        np.eye(2), np.stack([np.eye(2), np.eye(2)], axis=-1), control_factors=[]
    )
    with pytest.raises(SpecError, match="not controllable"):
        spec_to_dict(model)


def test_factor_with_one_named_control_nests_by_that_control():
    spec = {
        "factors": [
            {
                "name": "x",
                "states": ["a", "b"],
                "controls": ["drift"],
                "transitions": {"table": {"drift": {"a": {"b": 1.0}, "b": {"a": 1.0}}}},
            }
        ],
        "modalities": [{"name": "o", "outcomes": ["a", "b"], "likelihood": "identity"}],
    }
    model = compile_spec(spec)
    assert model.control_factors == ()
    assert np.array_equal(model.B[0][:, :, 0], [[0, 1], [1, 0]])
    assert model.labels.controls == (("drift",),)
    assert spec_to_dict(model)["factors"][0]["controls"] == ["drift"]


def test_rules_later_override_earlier_and_accept_state_lists():
    spec = {
        "factors": [{"name": "x", "states": ["a", "b", "c"]}],
        "modalities": [
            {
                "name": "o",
                "outcomes": ["lo", "hi"],
                "likelihood": [
                    {"p": "lo"},
                    {"when": {"x": ["b", "c"]}, "p": {"hi": 1.0}},
                    {"when": {"x": "c"}, "p": {"lo": 0.25, "hi": 0.75}},
                ],
            }
        ],
    }
    A = compile_spec(spec).A[0]
    assert np.array_equal(A, [[1.0, 0.0, 0.25], [0.0, 1.0, 0.75]])


# ---------------------------------------------------------------- errors
def _set(path, value):
    """A mutation of the tiger spec: set ``value`` at a key path (list of keys/indices)."""

    def mutate(spec):
        target = spec
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _delete(path):
    def mutate(spec):
        target = spec
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


ERRORS = [
    (
        _set(["modalities", 0, "likelihood", 2, "p", "roar"], 0.0),
        "modalities[0].likelihood[2].p",
        ["outcome 'roar' is not an outcome of modality 'hearing'", "'growl_left'"],
    ),
    (
        _set(["modalities", 0, "depends_on"], ["location", "weather"]),
        "modalities[0].depends_on[1]",
        ["unknown factor 'weather'", "'location', 'context'"],
    ),
    (
        _set(["modalities", 0, "likelihood", 1, "when", "weather"], "rain"),
        "modalities[0].likelihood[1].when",
        ["unknown factor 'weather'"],
    ),
    (
        _set(
            ["modalities", 2, "likelihood"], [{"when": {"context": "tiger_left"}, "p": "at_start"}]
        ),
        "modalities[2].likelihood[0].when",
        ["factor 'context' is not one this table depends on", "'location'"],
    ),
    (
        _set(["factors", 1, "name"], "location"),
        "factors[1].name",
        ["duplicated factor name 'location'"],
    ),
    (
        _set(["factors", 1, "states"], ["tiger_left", "tiger_left"]),
        "factors[1].states[1]",
        ["duplicated name 'tiger_left'"],
    ),
    (
        _set(["modalities", 1, "name"], "hearing"),
        "modalities[1].name",
        ["duplicated modality name 'hearing'"],
    ),
    (
        _set(["modalities", 1, "likelihood", "opened_left", "tiger_left"], {"tiger": 0.9}),
        "modalities[1].likelihood.opened_left.tiger_left",
        ["sum to 0.9", "location=opened_left, context=tiger_left"],
    ),
    (
        _set(["modalities", 0, "likelihood", 1, "p"], {"growl_left": 1.2, "growl_right": -0.2}),
        "modalities[0].likelihood[1].p.growl_right",
        ["cannot be negative", "-0.2"],
    ),
    (
        _delete(["modalities", 1, "likelihood", "opened_right"]),
        "modalities[1].likelihood",
        [
            "2 column(s)",
            "location=opened_right, context=tiger_left",
            "location=opened_right, context=tiger_right",
        ],
    ),
    (
        _set(
            ["modalities", 0, "likelihood"], [{"when": {"location": "listening"}, "p": "silence"}]
        ),
        "modalities[0].likelihood",
        ["6 column(s)", "location=start, context=tiger_left", "location=opened_right"],
    ),
    (
        _set(["modalites"], []),
        "",
        ["unknown key 'modalites'", "'factors', 'modalities', 'policy_len'"],
    ),
    (
        _set(["factors", 0, "state"], ["x"]),
        "factors[0]",
        ["unknown key 'state'", "'name', 'states', 'controls', 'initial', 'transitions'"],
    ),
    (
        _set(["factors", 0, "transitions", "tabel"], {}),
        "factors[0].transitions",
        ["unknown key 'tabel'", "'depends_on', 'table', 'rules', 'deterministic'"],
    ),
    (
        _set(["modalities", 0, "likelihood", 0, "if"], {}),
        "modalities[0].likelihood[0]",
        ["unknown key 'if'", "'when', 'p'"],
    ),
    (
        _delete(["modalities", 2, "likelihood"]),
        "modalities[2]",
        ["missing required key 'likelihood'"],
    ),
    (_set(["factors", 0, "states"], "start"), "factors[0].states", ["expected a list of states"]),
    (_set(["policy_len"], "2"), "policy_len", ["expected an integer", "'2'"]),
    (_set(["policy_len"], 0), "policy_len", ["expected an integer >= 1"]),
    (
        _set(["modalities", 1, "preferences", "treasure"], "lots"),
        "modalities[1].preferences.treasure",
        ["expected a number", "'lots'"],
    ),
    (
        _set(["modalities", 1, "preferences", "gold"], 1.0),
        "modalities[1].preferences",
        ["outcome 'gold' is not an outcome of modality 'reward'"],
    ),
    (
        _set(["modalities", 0, "likelihood", 1, "p", "growl_left"], True),
        "modalities[0].likelihood[1].p.growl_left",
        ["expected a number, got a boolean"],
    ),
    (
        _set(["modalities", 0, "likelihood"], "identity"),
        "modalities[0].likelihood",
        ["'identity' needs exactly one factor in depends_on, got 2"],
    ),
    (
        _set(["modalities", 2, "outcomes"], ["a", "b", "c"]),
        "modalities[2].likelihood",
        ["'identity' needs as many outcomes as states of 'location', got 3 and 4"],
    ),
    (
        _set(["modalities", 0, "noise"], 0.1),
        "modalities[0].noise",
        ["'noise' applies only to the 'identity' likelihood"],
    ),
    (_set(["modalities", 2, "noise"], 1.5), "modalities[2].noise", ["noise is a probability"]),
    (
        _set(["modalities", 2, "likelihood"], "diagonal"),
        "modalities[2].likelihood",
        ["unknown shorthand 'diagonal'"],
    ),
    (
        _set(["modalities", 1, "likelihood", "opened_left", "tiger_middle"], "tiger"),
        "modalities[1].likelihood.opened_left",
        [
            "'tiger_middle' is not a state of factor 'context'",
            "states of 'location' → states of 'context'",
        ],
    ),
    (
        _set(["factors", 0, "transitions", "table"], {}),
        "factors[0].transitions",
        ["give exactly one of 'table', 'rules', 'deterministic', got 'table', 'rules'"],
    ),
    (
        _set(["factors", 0, "transitions"], {"deterministic": {"listen": {"start": "lounge"}}}),
        "factors[0].transitions.deterministic.listen.start",
        ["next state 'lounge' is not a next state of factor 'location'"],
    ),
    (
        _set(["factors", 0, "transitions"], {"deterministic": {"dance": {"start": "listening"}}}),
        "factors[0].transitions.deterministic",
        ["'dance' is not a control of factor 'location'"],
    ),
    (
        _set(
            ["factors", 1, "transitions"],
            {"depends_on": ["location"], "deterministic": {"start": "tiger_left"}},
        ),
        "factors[1].transitions.deterministic",
        ["3 column(s)", "location=listening"],
    ),
    (
        _set(["factors", 1, "transitions"], [{"control": "stay", "p": "tiger_left"}]),
        "factors[1].transitions.rules[0]",
        ["unknown key 'control'"],
    ),
    (
        _set(["factors", 0, "transitions", "depends_on"], ["location", "mood"]),
        "factors[0].transitions.depends_on[1]",
        ["unknown factor 'mood'"],
    ),
    (
        _set(["factors", 0, "initial"], {"start": 0.5}),
        "factors[0].initial",
        ["sum to 0.5, expected 1"],
    ),
    (_set(["factors", 0, "initial"], "random"), "factors[0].initial", ["'random'"]),
    (
        _set(["policies"], [[{"location": "fly"}, {"location": "stay"}]]),
        "policies[0][0].location",
        ["control 'fly' is not a control of factor 'location'"],
    ),
    (
        _set(["policies"], [[{}, {"location": "stay"}]]),
        "policies[0][0]",
        ["no control given for controllable factor 'location'"],
    ),
    (
        _set(["policies"], [[{"location": "stay", "context": "x"}, {"location": "stay"}]]),
        "policies[0][0].context",
        ["factor 'context' declares no controls"],
    ),
    (
        _set(["policies"], [[{"location": "stay"}]]),
        "policies[0]",
        ["has 1 step(s), expected 2 (policy_len)"],
    ),
    (_set(["habits"], {"16": 1.0}), "habits", ["'16' is not a policy index (0..15)"]),
    (_set(["habits"], {"3": -1.0}), "habits['3']", ["cannot be negative"]),
    (_set(["habits"], [1.0]), "habits", ["expected a mapping"]),
    (_set(["name"], 3), "name", ["expected a string"]),
]


@pytest.mark.parametrize(("mutate", "path", "fragments"), ERRORS)
def test_spec_errors_name_the_path(mutate, path, fragments):
    spec = copy.deepcopy(tiger_spec())
    mutate(spec)
    with pytest.raises(SpecError) as info:
        compile_spec(spec)
    message = str(info.value)
    assert info.value.path == (path or None)
    if path:
        assert message.startswith(f"{path}: ")
    for fragment in fragments:
        assert fragment in message
    assert isinstance(info.value, ModelError)  # one except clause catches model errors


def test_habits_with_zero_total_weight():
    spec = tiger_spec()
    spec["policies"] = [[{"location": "stay"}, {"location": "stay"}]]
    spec["habits"] = {"0": 0.0}
    with pytest.raises(SpecError, match="sum to 0"):
        compile_spec(spec)


def test_spec_must_be_a_mapping():
    with pytest.raises(SpecError, match="expected the specification to be a mapping"):
        compile_spec([1, 2])  # type: ignore[arg-type]


# ---------------------------------------------------------------- files
def test_malformed_json_reports_the_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{\n  "factors": [],\n  "modalities": [,]\n}\n')
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert info.value.path == "line 3"
    assert "bad.json: line 3, column" in str(info.value)
    assert "malformed JSON" in str(info.value)


def test_json_duplicate_keys_are_rejected(tmp_path):
    path = tmp_path / "dup.json"
    path.write_text('{"factors": [], "factors": [], "modalities": []}')
    with pytest.raises(SpecError, match="duplicated key 'factors'"):
        read_spec(path)


def test_malformed_toml_reports_the_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('policy_len = 1\n\n[[factors]]\nname = "x" "y"\nstates = ["a"]\n')
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert info.value.path == "line 4"
    assert str(info.value).startswith("bad.toml: line 4: malformed TOML")


def test_toml_ending_early_reports_the_last_line(tmp_path):
    path = tmp_path / "short.toml"
    path.write_text('policy_len = 1\n\n[[factors]]\nname = "x"\nstates = ["a", \n')
    with pytest.raises(SpecError) as info:
        read_spec(path)
    assert info.value.path == "line 5"
    assert "end of document" in str(info.value)


def test_file_errors_are_prefixed_with_the_file_name(tmp_path):
    spec = tiger_spec()
    spec["modalities"][0]["likelihood"][2]["p"]["roar"] = 0.0
    path = tmp_path / "tiger_typo.json"
    path.write_text(json.dumps(spec))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value).startswith("tiger_typo.json: modalities[0].likelihood[2].p: ")
    assert info.value.path == "modalities[0].likelihood[2].p"


def test_unknown_file_suffix(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_text("factors: []")
    with pytest.raises(SpecError, match=r"unknown specification format '\.yaml'"):
        load_spec(path)
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "missing.json")


def test_top_level_of_a_file_must_be_a_mapping(tmp_path):
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    with pytest.raises(SpecError, match="must hold a mapping"):
        read_spec(path)


# ---------------------------------------------------------------- random specs
@st.composite
def distributions(draw, names):
    weights = draw(st.lists(st.integers(0, 4), min_size=len(names), max_size=len(names)))
    if sum(weights) == 0:
        weights[draw(st.integers(0, len(names) - 1))] = 1
    total = sum(weights)
    return {n: w / total for n, w in zip(names, weights, strict=True) if w}


@st.composite
def nested(draw, rows, axes):
    if not axes:
        return draw(distributions(rows))
    return {label: draw(nested(rows, axes[1:])) for label in axes[0]}


@st.composite
def random_specs(draw):
    num_factors = draw(st.integers(1, 3))
    factors = []
    for f in range(num_factors):
        states = [f"x{f}_{i}" for i in range(draw(st.integers(1, 3)))]
        factor = {"name": f"factor{f}", "states": states}
        num_controls = draw(st.integers(0, 3))
        if num_controls:
            factor["controls"] = [f"c{i}" for i in range(num_controls)]
        factors.append(factor)
    names = [f["name"] for f in factors]
    spaces = {f["name"]: f["states"] for f in factors}
    for factor in factors:
        deps = draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True))
        axes = [factor.get("controls")] if "controls" in factor else []
        axes += [spaces[d] for d in deps]
        factor["transitions"] = {"depends_on": deps, "table": draw(nested(factor["states"], axes))}
        factor["initial"] = draw(distributions(factor["states"]))
    modalities = []
    for m in range(draw(st.integers(1, 2))):
        outcomes = [f"o{m}_{i}" for i in range(draw(st.integers(1, 3)))]
        deps = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
        if draw(st.booleans()):
            likelihood = draw(nested(outcomes, [spaces[d] for d in deps]))
        else:  # a catch-all rule, then rules on single states
            likelihood = [{"p": draw(distributions(outcomes))}]
            for _ in range(draw(st.integers(0, 3))):
                dep = draw(st.sampled_from(deps))
                when = {dep: draw(st.sampled_from(spaces[dep]))}
                likelihood.append({"when": when, "p": draw(distributions(outcomes))})
        modalities.append(
            {"name": f"mod{m}", "outcomes": outcomes, "depends_on": deps, "likelihood": likelihood}
        )
    return {"factors": factors, "modalities": modalities, "policy_len": draw(st.integers(1, 2))}


@settings(max_examples=60, deadline=None)
@given(random_specs())
def test_random_specs_compile_to_normalised_models_and_round_trip(spec):
    model = compile_spec(spec)
    for array in (*model.A, *model.B, *model.D):
        assert np.allclose(array.sum(axis=0), 1.0, atol=1e-9)
        assert (array >= 0).all()
    assert model.control_factors == tuple(
        f for f, factor in enumerate(spec["factors"]) if len(factor.get("controls", ())) > 1
    )
    assert_same_model(model, compile_spec(spec_to_dict(model)))
