"""A named model specification, compiled to a :class:`GenerativeModel`.

Everything is written by name, so nobody has to remember axis order. A spec is a
mapping (from Python, JSON or TOML)::

    {
      "factors": [
        {"name": "location", "states": ["start", "left", "right"],
         "controls": ["stay", "go_left", "go_right"],          # optional
         "initial": {"start": 1.0},                            # or "uniform" (default)
         "transitions": {"deterministic": {"go_left": {"start": "left"},
                                           "go_right": {"start": "right"}}}},
        {"name": "context", "states": ["tiger_left", "tiger_right"]}   # identity
      ],
      "modalities": [
        {"name": "hearing", "outcomes": ["quiet", "hear_left", "hear_right"],
         "depends_on": ["location", "context"],                # default: every factor
         "likelihood": [
           {"p": {"quiet": 1.0}},
           {"when": {"location": "start", "context": "tiger_left"},
            "p": {"hear_left": 0.85, "hear_right": 0.15}},
           {"when": {"location": "start", "context": "tiger_right"},
            "p": {"hear_left": 0.15, "hear_right": 0.85}}],
         "preferences": {"hear_left": 0.5}}                    # missing outcomes: 0
      ],
      "policy_len": 1,                                         # default 1
      "policies": [[{"location": "go_left"}], ...],            # default: all of them
      "habits": {"0": 2.0}                                     # default: uniform
    }

Keys and their meaning:

- ``factors[f]``: ``name``, ``states`` (names, the axis of ``D[f]`` and ``B[f]``),
  ``controls`` (names; absent or a single name means uncontrolled), ``initial`` (a
  distribution ``{state: p}``, missing states 0, or ``"uniform"``) and ``transitions``
  (default ``"identity"``), one of

  - ``"identity"`` (the state never changes) or ``"uniform"``;
  - ``{"depends_on": [factors], "table": ...}`` (``depends_on`` defaults to the factor
    itself): a nested mapping keyed by control name (only when ``controls`` is given),
    then by a state of each ``depends_on`` factor in order, down to the distribution
    ``{next_state: p}`` or one next-state name;
  - ``{"depends_on": ..., "rules": [...]}``: rules ``{"when": {factor: state or
    [states]}, "control": name or [names], "p": {next_state: p}}``; what a rule leaves
    out matches everything, later rules override earlier ones;
  - ``{"depends_on": ..., "deterministic": ...}``: the nested mapping of ``table`` with
    a next-state name at each leaf; where none is given the state stays unchanged.

- ``modalities[m]``: ``name``, ``outcomes`` (names), ``depends_on`` (factor names, the
  axes of ``A[m]`` after the outcome; default every factor in order), ``likelihood``
  (a nested mapping keyed by a state of each ``depends_on`` factor in order down to
  ``{outcome: p}``, a list of rules as above without ``control``, ``"uniform"``, or
  ``"identity"``: outcome ``i`` for state ``i`` of a single dependency factor),
  ``noise`` (for ``"identity"``: probability spread evenly over the other outcomes),
  ``preferences`` (``{outcome: log-preference}``, missing outcomes 0).

- ``policy_len`` (default 1, or the length of the given policies); ``policies``: a list
  of policies, each a list of ``policy_len`` steps, each step ``{factor: control}``
  naming every controllable factor (a bare control name when only one factor is
  controllable); default: every combination, in :func:`enumerate_policies` order.
- ``habits``: ``{policy index: weight}``; unlisted policies weigh 1 and the weights are
  normalised into ``E``. ``name`` and ``description`` are free text.

Controllable factors are those with more than one control. Probabilities must sum to
one (within ``1e-6``); nothing is renormalised except the habit weights. Every problem
raises :class:`~freeagentics.errors.SpecError` naming its path, e.g.
``modalities[0].likelihood[2].p: outcome 'roar' is not an outcome of modality 'hearing'``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from freeagentics.errors import ModelError, SpecError
from freeagentics.models._limits import DEFAULT_MODEL_LIMITS, ModelLimits, check_model_size
from freeagentics.models._model import GenerativeModel, Labels
from freeagentics.models._policies import enumerate_policies
from freeagentics.models._spec_check import (
    as_int,
    as_list,
    as_mapping,
    as_name,
    as_names,
    as_number,
    check_keys,
    fail,
    join,
    listing,
)
from freeagentics.models._spec_tables import (
    Space,
    distribution,
    likelihood_table,
    transition_table,
)

__all__ = ["compile_spec"]

_TOP_KEYS = ("factors", "modalities", "policy_len", "policies", "habits", "name", "description")
_FACTOR_KEYS = ("name", "states", "controls", "initial", "transitions")
_MODALITY_KEYS = ("name", "outcomes", "depends_on", "likelihood", "noise", "preferences")
#: Habits are normalised unless they already sum to one this closely (keeps round trips exact).
_HABIT_EXACT = 1e-12


@dataclass(frozen=True)
class _Factor:
    name: str
    states: Space
    controls: Space | None  # None: declared without controls (one implicit control)

    @property
    def num_controls(self) -> int:
        return 1 if self.controls is None else self.controls.size


def compile_spec(
    spec: Mapping[str, Any], *, limits: ModelLimits = DEFAULT_MODEL_LIMITS
) -> GenerativeModel:
    """Compile a named specification (see the module docstring) to a model.

    The model's :class:`Labels` keep every name; a factor declared without controls has
    no control names (``labels.controls[f] == ()``). A model over ``limits`` raises
    :class:`~freeagentics.errors.LimitError` before any array is built.
    """
    spec = as_mapping(spec, "", "the specification to be a mapping")
    check_keys(spec, "", allowed=_TOP_KEYS, required=("factors", "modalities"))
    for key in ("name", "description"):
        if key in spec and not isinstance(spec[key], str):
            fail(key, f"expected a string, got {type(spec[key]).__name__}")

    raw_factors = as_list(spec["factors"], "factors", "a list of factors")
    factors = _factors(raw_factors)
    _check_size(spec, factors, raw_factors, limits)
    spaces = {f.name: f.states for f in factors}
    B, B_deps, D = [], [], []
    for i, (factor, raw) in enumerate(zip(factors, raw_factors, strict=True)):
        path = join("factors", i)
        table, deps = transition_table(
            raw.get("transitions"), factor.name, spaces, factor.controls, join(path, "transitions")
        )
        B.append(table)
        B_deps.append([list(spaces).index(d) for d in deps])
        D.append(_initial(raw.get("initial"), factor, join(path, "initial")))

    A, A_deps, C, modality_names, outcome_names = [], [], [], [], []
    modalities = as_list(spec["modalities"], "modalities", "a list of modalities")
    if not modalities:
        fail("modalities", "must list at least one modality")
    for m, raw in enumerate(modalities):
        name, outcomes, table, deps, prefs = _modality(raw, join("modalities", m), spaces)
        if name in modality_names:
            fail(join(join("modalities", m), "name"), f"duplicated modality name {name!r}")
        modality_names.append(name)
        outcome_names.append(outcomes.names)
        A.append(table)
        A_deps.append(deps)
        C.append(prefs)

    control_factors = [i for i, f in enumerate(factors) if f.num_controls > 1]
    policies = _policies(spec, factors, control_factors, limits)
    E = _habits(spec["habits"], len(policies)) if "habits" in spec else None
    labels = Labels(
        factors=tuple(f.name for f in factors),
        states=tuple(f.states.names for f in factors),
        modalities=tuple(modality_names),
        outcomes=tuple(outcome_names),
        controls=tuple(() if f.controls is None else f.controls.names for f in factors),
    )
    try:
        return GenerativeModel.create(
            A,
            B,
            C,
            D,
            E,
            policies=policies,
            A_deps=A_deps,
            B_deps=B_deps,
            control_factors=control_factors,
            labels=labels,
            limits=limits,
        )
    except ModelError as exc:  # every array was checked by name above; this is a safety net
        raise SpecError(f"the specification compiles to an invalid model: {exc}") from exc


def _declared_deps(raw: Any, default: list[str]) -> list[str]:
    """The factor names ``raw`` (a modality or transitions) declares in ``depends_on``."""
    if isinstance(raw, Mapping) and isinstance(raw.get("depends_on"), list | tuple):
        return [d for d in raw["depends_on"] if isinstance(d, str)]
    return default


def _check_size(
    spec: Mapping[str, Any], factors: list[_Factor], raw_factors: list[Any], limits: ModelLimits
) -> None:
    """Refuse a spec whose arrays would be over ``limits``, from its declared sizes alone.

    Malformed parts are skipped here; compiling them reports them by path afterwards.
    """
    index = {f.name: i for i, f in enumerate(factors)}
    modalities = spec.get("modalities") if isinstance(spec.get("modalities"), list) else []
    num_obs, A_deps = [], []
    for raw in modalities:
        outcomes = raw.get("outcomes") if isinstance(raw, Mapping) else None
        num_obs.append(len(outcomes) if isinstance(outcomes, list | tuple) else 1)
        A_deps.append([index[d] for d in _declared_deps(raw, list(index)) if d in index])
    B_deps = [
        [index[d] for d in _declared_deps(raw.get("transitions"), [f.name]) if d in index]
        for f, raw in zip(factors, raw_factors, strict=True)
    ]
    horizon = spec.get("policy_len", 1)
    horizon = horizon if isinstance(horizon, int) and horizon >= 1 else 1
    listed = "policies" in spec  # listed policies are as large as the request that lists them
    check_model_size(
        [f.states.size for f in factors],
        num_obs,
        [f.num_controls for f in factors],
        A_deps=A_deps,
        B_deps=B_deps,
        policy_len=horizon,
        control_factors=[] if listed else None,
        limits=limits,
    )


def _factors(items: list[Any]) -> list[_Factor]:
    if not items:
        fail("factors", "must list at least one factor")
    factors: list[_Factor] = []
    for i, raw in enumerate(items):
        path = join("factors", i)
        raw = as_mapping(raw, path, "a factor {name, states, ...}")
        check_keys(raw, path, allowed=_FACTOR_KEYS, required=("name", "states"))
        name = as_name(raw["name"], join(path, "name"))
        if any(f.name == name for f in factors):
            fail(join(path, "name"), f"duplicated factor name {name!r}")
        states = Space(
            as_names(raw["states"], join(path, "states"), "states"), "state", "factor", name
        )
        controls = None
        if "controls" in raw:
            names = as_names(raw["controls"], join(path, "controls"), "controls")
            controls = Space(names, "control", "factor", name)
        factors.append(_Factor(name, states, controls))
    return factors


def _initial(value: Any, factor: _Factor, path: str) -> np.ndarray:
    if value is None or value == "uniform":
        return np.full(factor.states.size, 1.0 / factor.states.size)
    if isinstance(value, str):
        fail(path, f"expected 'uniform' or a mapping {{state: probability}}, got {value!r}")
    return distribution(value, factor.states, path)


def _modality(
    raw: Any, path: str, spaces: Mapping[str, Space]
) -> tuple[str, Space, np.ndarray, list[int], np.ndarray]:
    raw = as_mapping(raw, path, "a modality {name, outcomes, likelihood, ...}")
    check_keys(raw, path, allowed=_MODALITY_KEYS, required=("name", "outcomes", "likelihood"))
    name = as_name(raw["name"], join(path, "name"))
    outcomes = Space(
        as_names(raw["outcomes"], join(path, "outcomes"), "outcomes"), "outcome", "modality", name
    )
    deps = list(spaces)
    if "depends_on" in raw:
        deps_path = join(path, "depends_on")
        deps = list(as_names(raw["depends_on"], deps_path, "factors"))
        for i, dep in enumerate(deps):
            if dep not in spaces:
                fail(join(deps_path, i), f"unknown factor {dep!r} (factors: {listing(spaces)})")
    noise = None
    if "noise" in raw:
        noise = as_number(raw["noise"], join(path, "noise"), probability=True)
    table = likelihood_table(
        raw["likelihood"],
        outcomes,
        [spaces[d] for d in deps],
        join(path, "likelihood"),
        all_factors=list(spaces),
        noise=noise,
        noise_path=join(path, "noise"),
    )
    prefs = np.zeros(outcomes.size)
    prefs_path = join(path, "preferences")
    for key, value in as_mapping(raw.get("preferences", {}), prefs_path).items():
        prefs[outcomes.index(key, prefs_path)] = as_number(value, join(prefs_path, key))
    return name, outcomes, table, [list(spaces).index(d) for d in deps], prefs


def _policies(
    spec: Mapping[str, Any],
    factors: list[_Factor],
    control_factors: list[int],
    limits: ModelLimits,
) -> np.ndarray:
    """``(P, T, F)`` control indices: the listed policies, or every combination."""
    policy_len = None
    if "policy_len" in spec:
        policy_len = as_int(spec["policy_len"], "policy_len", minimum=1)
    if "policies" not in spec:
        num_controls = [f.num_controls for f in factors]
        return enumerate_policies(num_controls, policy_len or 1, control_factors, limits)
    items = as_list(spec["policies"], "policies", "a list of policies")
    if not items:
        fail("policies", "must list at least one policy")
    rows = []
    for p, policy in enumerate(items):
        path = join("policies", p)
        steps = as_list(policy, path, "a policy: a list of steps")
        if policy_len is None:
            policy_len = len(steps)
        if len(steps) != policy_len:
            fail(path, f"has {len(steps)} step(s), expected {policy_len} (policy_len)")
        rows.append(
            [_step(step, join(path, t), factors, control_factors) for t, step in enumerate(steps)]
        )
    return np.array(rows, dtype=np.int64)


def _step(step: Any, path: str, factors: list[_Factor], control_factors: list[int]) -> list[int]:
    """One policy step ``{factor: control}`` as a control index per factor."""
    controllable = [factors[f].name for f in control_factors]
    if isinstance(step, str) and len(controllable) == 1:
        step = {controllable[0]: step}
    step = as_mapping(step, path, "a step {factor: control}")
    by_name = {f.name: f for f in factors}
    row = [0] * len(factors)
    for name, control in step.items():
        if name not in by_name:
            fail(path, f"unknown factor {name!r} (factors: {listing(by_name)})")
        factor = by_name[name]
        if factor.controls is None:
            fail(join(path, name), f"factor {name!r} declares no controls")
        row[factors.index(factor)] = factor.controls.index(control, join(path, name))
    for name in controllable:
        if name not in step:
            fail(path, f"no control given for controllable factor {name!r}")
    return row


def _habits(value: Any, num_policies: int) -> np.ndarray:
    """``E``: ``(P,)`` from ``{policy index: weight}`` (JSON and TOML keys are strings)."""
    if not isinstance(value, Mapping):
        fail("habits", f"expected a mapping {{policy index: weight}}, got {type(value).__name__}")
    weights = np.ones(num_policies)
    for key, weight in value.items():
        text = str(key)
        if isinstance(key, bool) or not text.isdigit() or int(text) >= num_policies:
            fail("habits", f"{key!r} is not a policy index (0..{num_policies - 1})")
        weights[int(text)] = as_number(weight, join("habits", text), probability=True)
    total = float(weights.sum())
    if total <= 0:
        fail("habits", "the weights sum to 0; at least one policy needs a positive weight")
    return weights if abs(total - 1.0) <= _HABIT_EXACT else weights / total
