"""Conditional probability tables written by name: A[m] and B[f] of a named specification.

A table holds one distribution over *rows* (the outcomes of a modality, or the next
states of a factor) per *column*, a combination of labels of its *axes* (the states
of the factors it depends on, and for transitions the control). It can be written as

- a **nested mapping** keyed by axis labels in a fixed order down to a leaf, the
  distribution ``{row: probability}`` (missing rows 0) or a single row name (probability 1);
- a list of **rules** ``{"when": {factor: label or [labels]}, "p": leaf}`` (transitions
  also take ``"control"``); an axis a rule leaves out matches every label, and later
  rules override earlier ones column by column;
- a shorthand: ``"identity"``, ``"uniform"``.

Every column must be covered exactly once the description is applied; uncovered ones
are an error naming the labels of each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from freeagentics.models._spec_check import (
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
from freeagentics.models._validate import SUM_TOLERANCE

__all__ = ["Space", "distribution", "identity_matrix", "likelihood_table", "transition_table"]

#: Uncovered columns listed in an error before "and N more".
_SHOWN_COLUMNS = 6


@dataclass(frozen=True)
class Space:
    """The names one axis can take: the states of a factor, outcomes, or controls."""

    names: tuple[str, ...]
    noun: str  # "state", "outcome", "control"
    owner_kind: str  # "factor", "modality"
    owner: str  # the factor's or modality's name

    @property
    def size(self) -> int:
        return len(self.names)

    @property
    def axis_key(self) -> str:
        """How a column label of this axis is written: ``location=left``, ``control=stay``."""
        return "control" if self.noun == "control" else self.owner

    def describe(self) -> str:
        article = "an" if self.noun[0] in "aeiou" else "a"
        return f"{article} {self.noun} of {self.owner_kind} {self.owner!r}"

    def index(self, name: Any, path: str) -> int:
        name = as_name(name, path)
        if name not in self.names:
            fail(
                path,
                f"{self.noun} {name!r} is not {self.describe()} "
                f"({self.noun}s: {listing(self.names)})",
            )
        return self.names.index(name)


def distribution(value: Any, rows: Space, path: str, column: str = "") -> np.ndarray:
    """``{row: probability}`` (missing rows 0) or one row name, as a ``(len(rows),)`` vector."""
    vector = np.zeros(rows.size)
    if isinstance(value, str):
        vector[rows.index(value, path)] = 1.0
        return vector
    mapping = as_mapping(value, path, f"a mapping {{{rows.noun}: probability}} or a {rows.noun}")
    for key, p in mapping.items():
        vector[rows.index(key, path)] = as_number(p, join(path, key), probability=True)
    total = float(vector.sum())
    if abs(total - 1.0) > SUM_TOLERANCE:
        where = f" for {column}" if column else ""
        fail(path, f"probabilities{where} sum to {total:.6g}, expected 1")
    return vector


class _Table:
    """A table under construction: values ``(R, *axis sizes)`` and which columns are set."""

    def __init__(self, rows: Space, axes: Sequence[Space], path: str):
        self.rows = rows
        self.axes = tuple(axes)
        self.path = path
        self.values = np.zeros((rows.size, *(a.size for a in axes)))
        self.filled = np.zeros(tuple(a.size for a in axes), dtype=bool)

    def column_name(self, index: Sequence[int]) -> str:
        return ", ".join(
            f"{a.axis_key}={a.names[i]}" for a, i in zip(self.axes, index, strict=True)
        )

    def missing(self) -> list[tuple[int, ...]]:
        return [tuple(int(i) for i in idx) for idx in np.argwhere(~self.filled)]

    def require_complete(self) -> np.ndarray:
        missing = self.missing()
        if missing:
            shown = "; ".join(self.column_name(idx) for idx in missing[:_SHOWN_COLUMNS])
            more = (
                f"; and {len(missing) - _SHOWN_COLUMNS} more"
                if len(missing) > _SHOWN_COLUMNS
                else ""
            )
            fail(
                self.path,
                f"no distribution over {self.rows.noun}s given for {len(missing)} "
                f"column(s): {shown}{more}",
            )
        return self.values


def _fill_nested(table: _Table, value: Any, path: str, depth: int, prefix: tuple[int, ...]) -> None:
    if depth == len(table.axes):
        table.values[(slice(None), *prefix)] = distribution(
            value, table.rows, path, table.column_name(prefix)
        )
        table.filled[prefix] = True
        return
    axis = table.axes[depth]
    mapping = as_mapping(value, path, f"a mapping keyed by the {axis.noun}s of {axis.owner!r}")
    for key, inner in mapping.items():
        if key not in axis.names:
            order = " → ".join(f"{a.noun}s of {a.owner!r}" for a in table.axes)
            fail(
                path,
                f"{key!r} is not {axis.describe()} ({axis.noun}s: {listing(axis.names)}); "
                f"this table nests {order} → {{{table.rows.noun}: probability}}",
            )
        _fill_nested(table, inner, join(path, key), depth + 1, (*prefix, axis.names.index(key)))


def _selection(value: Any, axis: Space, path: str) -> list[int]:
    if isinstance(value, list | tuple):
        if not value:
            fail(path, f"an empty list matches no {axis.noun}")
        return [axis.index(v, join(path, i)) for i, v in enumerate(value)]
    return [axis.index(value, path)]


def _fill_rules(
    table: _Table,
    rules: Any,
    path: str,
    all_factors: Sequence[str],
    control_axis: int | None,
) -> None:
    """Apply ``rules`` in order; ``control_axis`` locates the control axis of transitions."""
    allowed = ("when", "p") if control_axis is None else ("when", "control", "p")
    factor_axes = {a.owner: i for i, a in enumerate(table.axes) if i != control_axis}
    for r, rule in enumerate(as_list(rules, path, "a list of rules")):
        rule_path = join(path, r)
        rule = as_mapping(rule, rule_path, "a rule {when: {...}, p: {...}}")
        check_keys(rule, rule_path, allowed=allowed, required=("p",))
        chosen: list[list[int]] = [list(range(a.size)) for a in table.axes]
        when_path = join(rule_path, "when")
        for factor, label in as_mapping(rule.get("when", {}), when_path).items():
            if factor not in factor_axes:
                if factor in all_factors:
                    fail(
                        when_path,
                        f"factor {factor!r} is not one this table depends on "
                        f"(depends_on: {listing(factor_axes)})",
                    )
                fail(when_path, f"unknown factor {factor!r} (factors: {listing(all_factors)})")
            axis = factor_axes[factor]
            chosen[axis] = _selection(label, table.axes[axis], join(when_path, factor))
        if "control" in rule:
            assert control_axis is not None  # "control" is only allowed with a control axis
            chosen[control_axis] = _selection(
                rule["control"], table.axes[control_axis], join(rule_path, "control")
            )
        vector = distribution(rule["p"], table.rows, join(rule_path, "p"))
        index = np.ix_(*chosen)
        table.values[(slice(None), *index)] = vector.reshape((-1,) + (1,) * len(table.axes))
        table.filled[index] = True


def _identity(rows: Space, axis: Space, path: str, noise: float) -> np.ndarray:
    """``(R, R)``: row i given label i with probability ``1 - noise``, the rest shared evenly."""
    if rows.size != axis.size:
        fail(
            path,
            f"'identity' needs as many {rows.noun}s as {axis.noun}s of {axis.owner!r}, "
            f"got {rows.size} and {axis.size}",
        )
    return identity_matrix(rows.size, noise)


def identity_matrix(size: int, noise: float = 0.0) -> np.ndarray:
    """``(size, size)``: ``1 - noise`` on the diagonal, ``noise`` shared evenly off it."""
    if size == 1:
        return np.ones((1, 1))
    off = noise / (size - 1)
    return np.full((size, size), off) + np.eye(size) * (1.0 - noise - off)


def _uniform(rows: Space, axes: Sequence[Space]) -> np.ndarray:
    return np.full((rows.size, *(a.size for a in axes)), 1.0 / rows.size)


def likelihood_table(
    value: Any,
    outcomes: Space,
    deps: Sequence[Space],
    path: str,
    *,
    all_factors: Sequence[str],
    noise: float | None = None,
    noise_path: str = "",
) -> np.ndarray:
    """``A[m]``: ``(O_m, *S[deps])`` from a nested mapping, rules, or a shorthand.

    ``deps`` are the state spaces of the factors the modality depends on, in order;
    the nested mapping is keyed by their states in that order.
    """
    if noise is not None and value != "identity":
        fail(noise_path, "'noise' applies only to the 'identity' likelihood")
    if isinstance(value, str):
        if value == "uniform":
            return _uniform(outcomes, deps)
        if value == "identity":
            if len(deps) != 1:
                fail(
                    path,
                    f"'identity' needs exactly one factor in depends_on, got {len(deps)} "
                    f"({listing(d.owner for d in deps)})",
                )
            noise = 0.0 if noise is None else noise
            if noise > 1.0:
                fail(noise_path, f"noise is a probability, got {noise!r}")
            return _identity(outcomes, deps[0], path, noise)
        fail(path, f"unknown shorthand {value!r}; use 'identity', 'uniform', a mapping or rules")
    table = _Table(outcomes, deps, path)
    if isinstance(value, list | tuple):
        _fill_rules(table, value, path, all_factors, control_axis=None)
    else:
        _fill_nested(table, value, path, 0, ())
    return table.require_complete()


def _transition_deps(
    value: Mapping[str, Any], path: str, factor: str, factors: Mapping[str, Space]
) -> list[str]:
    if "depends_on" not in value:
        return [factor]
    deps_path = join(path, "depends_on")
    deps = list(as_names(value["depends_on"], deps_path, "factors"))
    for i, name in enumerate(deps):
        if name not in factors:
            fail(join(deps_path, i), f"unknown factor {name!r} (factors: {listing(factors)})")
    return deps


def transition_table(
    value: Any,
    factor: str,
    factors: Mapping[str, Space],
    controls: Space | None,
    path: str,
) -> tuple[np.ndarray, list[str]]:
    """``B[f]``: ``(S_f, *S[deps], U_f)`` and the names of ``deps``, from ``transitions``.

    ``factors`` maps every factor name to its states, in factor order; ``controls`` is
    ``None`` for a factor declared without controls (one implicit control), whose
    nested tables then start at the states rather than the controls.
    """
    states = factors[factor]
    next_states = Space(states.names, "next state", "factor", factor)
    num_controls = 1 if controls is None else controls.size
    if value is None:
        value = "identity"
    if isinstance(value, str):
        if value == "identity":
            B = np.repeat(np.eye(states.size)[:, :, None], num_controls, axis=2)
        elif value == "uniform":
            B = np.full((states.size, states.size, num_controls), 1.0 / states.size)
        else:
            fail(path, f"unknown shorthand {value!r}; use 'identity', 'uniform' or a mapping")
        return B, [factor]
    if isinstance(value, list | tuple):
        value = {"rules": value}
    value = as_mapping(value, path, "'identity', 'uniform', a list of rules or a mapping")
    forms = ("table", "rules", "deterministic")
    check_keys(value, path, allowed=("depends_on", *forms))
    given = [k for k in forms if k in value]
    if len(given) != 1:
        fail(path, f"give exactly one of {listing(forms)}, got {listing(given) or 'none'}")
    form = given[0]
    deps = _transition_deps(value, path, factor, factors)
    axes = [factors[d] for d in deps]
    nest_axes = axes if controls is None else [controls, *axes]
    table = _Table(next_states, nest_axes, join(path, form))
    if form == "rules":
        _fill_rules(
            table, value["rules"], table.path, list(factors), None if controls is None else 0
        )
    else:
        _fill_nested(table, value[form], table.path, 0, ())
    if form == "deterministic":
        _stay_where_unspecified(table, deps, factor, controls is not None)
    values = table.require_complete()
    if controls is None:
        return values[..., None], deps
    return np.moveaxis(values, 1, -1), deps


def _stay_where_unspecified(
    table: _Table, deps: list[str], factor: str, has_controls: bool
) -> None:
    """Deterministic transitions leave the state unchanged where no target is given."""
    if factor not in deps:
        return  # nothing to stay at: require_complete reports the gaps
    own_axis = deps.index(factor) + (1 if has_controls else 0)
    for index in table.missing():
        table.values[(index[own_axis], *index)] = 1.0
        table.filled[index] = True
