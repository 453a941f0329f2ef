"""Model size limits: refused in closed form, before any array is built."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freeagentics.errors import LimitError, SpecError
from freeagentics.models import (
    GenerativeModel,
    ModelLimits,
    check_model_size,
    compile_gmn,
    compile_spec,
    enumerate_policies,
    parse_gmn,
)
from freeagentics.models._gmn_props import MAX_NESTING


def _spec(factors, *, controls=0, policy_len=1, likelihood="uniform", states=("a", "b")):
    return {
        "factors": [
            {
                "name": f"f{i}",
                "states": list(states),
                **({"controls": [f"u{k}" for k in range(controls)]} if controls else {}),
            }
            for i in range(factors)
        ],
        "modalities": [{"name": "o", "outcomes": ["x", "y"], "likelihood": likelihood}],
        "policy_len": policy_len,
    }


def test_huge_policy_len_is_refused_without_computing_the_count():
    # the reported request: two controls, policy_len 2**32 (2 ** 2**32 policies)
    with pytest.raises(LimitError) as info:
        compile_spec(_spec(1, controls=2, policy_len=2**32))
    assert info.value.limit == "max_policy_len"
    assert "4294967296" in str(info.value)


def test_policy_len_is_capped_even_without_controls():
    # 1 ** n passed the old check, and the policy table of length n was built anyway
    with pytest.raises(LimitError) as info:
        compile_spec(_spec(1, policy_len=1_000))
    assert info.value.limit == "max_policy_len"


def test_policy_count_is_checked_in_log_space():
    limits = ModelLimits(max_policies=1_000, max_policy_len=64)
    with pytest.raises(LimitError) as info:
        enumerate_policies([4, 4], 6, limits=limits)  # 16**6 ~ 1.7e7
    assert info.value.limit == "max_policies"
    assert enumerate_policies([4, 4], 2, limits=limits).shape == (256, 2, 2)


def test_create_refuses_before_enumerating():
    A, B = np.eye(2), np.stack([np.eye(2)] * 2, axis=-1)
    with pytest.raises(LimitError):
        GenerativeModel.create(A, B, policy_len=10**7)
    with pytest.raises(LimitError) as info:
        GenerativeModel.create([A] * 40, B)
    assert info.value.limit == "max_factors"


def test_more_than_64_factors_is_a_limit_not_a_numpy_error():
    # one state each: every array is tiny, but A would have 71 axes (numpy allows 64)
    with pytest.raises(LimitError) as info:
        compile_spec(_spec(70, states=("only",)))
    assert info.value.limit == "max_factors"
    gmn = "[nodes]\n" + "".join(f"s{i}: state {{num_states: 1}}\n" for i in range(70))
    gmn += "o: observation {num_observations: 2}\nl: likelihood\n[edges]\nl -> o: generates\n"
    with pytest.raises(LimitError) as info:
        compile_gmn(gmn)
    assert info.value.limit == "max_factors"


def test_arrays_over_the_byte_limit_are_refused_from_their_sizes():
    # 30 two-state factors: A would hold 2 * 2**30 float64 (17 GB)
    with pytest.raises(LimitError) as info:
        compile_spec(_spec(30))
    assert info.value.limit == "max_array_bytes"
    assert "A[0]" in str(info.value)


def test_gmn_counts_are_bounded_before_names_are_generated():
    gmn = "[nodes]\ns: state {num_states: 1000000000}\no: observation {num_observations: 2}\n"
    with pytest.raises(LimitError) as info:
        compile_gmn(gmn)
    assert info.value.limit == "max_states"


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 50_000])
def test_deeply_nested_gmn_brackets_are_a_syntax_error(depth):
    text = "[nodes]\ns: state {x: " + "[" * depth + "]" * depth + "}\n"
    with pytest.raises(SpecError, match="nested more than"):
        parse_gmn(text)


def test_nesting_up_to_the_limit_parses():
    depth = MAX_NESTING - 1  # the props object itself is one level
    graph = parse_gmn("[nodes]\ns: state {x: " + "[" * depth + "]" * depth + "}\n")
    value = graph.nodes[0].props["x"]
    for _ in range(depth - 1):
        (value,) = value
    assert value == []


@settings(max_examples=40, deadline=None)
@given(
    states=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    outcomes=st.lists(st.integers(1, 4), min_size=1, max_size=2),
    controls=st.lists(st.integers(1, 3), min_size=3, max_size=3),
    policy_len=st.integers(1, 3),
    data=st.data(),
)
def test_closed_form_bytes_equal_the_built_arrays(states, outcomes, controls, policy_len, data):
    """The size computed before building is exactly what the compiled model holds."""
    factors = len(states)
    controls = controls[:factors]
    A_deps = [sorted(data.draw(st.sets(st.integers(0, factors - 1), min_size=1))) for _ in outcomes]
    spec = {
        "factors": [
            {
                "name": f"f{i}",
                "states": [f"s{k}" for k in range(s)],
                **({"controls": [f"u{k}" for k in range(u)]} if u > 1 else {}),
                "transitions": "uniform",
            }
            for i, (s, u) in enumerate(zip(states, controls, strict=True))
        ],
        "modalities": [
            {
                "name": f"m{m}",
                "outcomes": [f"o{k}" for k in range(o)],
                "likelihood": "uniform",
                "depends_on": [f"f{f}" for f in deps],
            }
            for m, (o, deps) in enumerate(zip(outcomes, A_deps, strict=True))
        ],
        "policy_len": policy_len,
    }
    model = compile_spec(spec)
    built = sum(a.nbytes for a in model.A) + sum(b.nbytes for b in model.B)
    built += model.policies.nbytes
    predicted = check_model_size(states, outcomes, controls, A_deps=A_deps, policy_len=policy_len)
    assert predicted == built
    tight = ModelLimits(max_array_bytes=built - 1)
    with pytest.raises(LimitError):
        compile_spec(spec, limits=tight)
    assert compile_spec(spec, limits=ModelLimits(max_array_bytes=built)).num_policies == (
        model.num_policies
    )
