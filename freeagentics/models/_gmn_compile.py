"""Compiling a GMN graph to a :class:`GenerativeModel` (the format is described in ``_gmn``).

Each edge is first given its meaning from the types of its two nodes; then every
likelihood, transition, preference and prior is tied to its modality or factor, and
arrays the GMN does not spell out get their documented defaults. Errors name the
line of the node or edge at fault (``nodes[i]`` / ``edges[j]`` in the JSON form).

What the original system's parser accepted compiles here too, with the original's
meaning where it had one, and a :class:`GMNWarning` saying what was assumed: a state
linked straight to an observation (an identity likelihood when their sizes agree,
uniform otherwise), an observation with no likelihood (uniform), sizes left out (1),
a transition, action, preference or prior tied to nothing (tied to the only factor or
modality that can take it, else ignored), edges with no meaning (ignored), and the
``llm_query``/``policy`` nodes that carry no model array (kept as metadata).
``strict=True`` turns each of these into an error.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from freeagentics.errors import LimitError, ModelError, SpecError
from freeagentics.models._gmn import parse_gmn
from freeagentics.models._gmn_graph import METADATA_NODE_TYPES, GMNGraph, GMNNode, GMNWarning
from freeagentics.models._limits import DEFAULT_MODEL_LIMITS, ModelLimits, check_model_size
from freeagentics.models._model import GenerativeModel, Labels
from freeagentics.models._spec_check import (
    as_int,
    as_list,
    as_names,
    as_number,
    check_keys,
    fail,
    join,
)
from freeagentics.models._spec_tables import identity_matrix
from freeagentics.models._validate import check_distribution_columns, check_finite, check_shape

__all__ = ["compile_gmn"]

#: (source type, target type, edge type) -> (relation, which end owns it: 0 source, 1 target).
_MEANINGS: dict[tuple[str, str, str], tuple[str, int]] = {
    ("state", "likelihood", "depends_on"): ("likelihood_deps", 1),
    ("likelihood", "state", "depends_on"): ("likelihood_deps", 0),
    ("likelihood", "observation", "generates"): ("likelihood_obs", 0),
    ("state", "transition", "depends_on"): ("transition_deps", 1),
    ("transition", "state", "depends_on"): ("transition_deps", 0),
    ("transition", "state", "generates"): ("transition_target", 0),
    ("action", "transition", "depends_on"): ("transition_action", 1),
    ("transition", "action", "depends_on"): ("transition_action", 0),
    ("action", "state", "influences"): ("action_factor", 0),
    ("preference", "observation", "depends_on"): ("preference_obs", 0),
    ("observation", "preference", "depends_on"): ("preference_obs", 1),
    ("prior", "state", "depends_on"): ("prior_state", 0),
    ("state", "prior", "depends_on"): ("prior_state", 1),
    # the original's shortcut: a state generating an observation without a likelihood node
    ("state", "observation", "generates"): ("direct_obs", 1),
    ("state", "observation", "depends_on"): ("direct_obs", 1),
    ("observation", "state", "depends_on"): ("direct_obs", 0),
}
_ALLOWED_EDGES = (
    "state -> likelihood: depends_on",
    "likelihood -> observation: generates",
    "state -> transition: depends_on",
    "transition -> state: generates",
    "action -> transition: depends_on",
    "action -> state: influences",
    "preference -> observation: depends_on",
    "prior -> state: depends_on",
)
_PROPS = {
    "state": ("num_states", "states"),
    "observation": ("num_observations", "outcomes"),
    "action": ("num_actions", "actions"),
    "likelihood": ("matrix", "kind", "noise"),
    "transition": ("matrix", "kind"),
    "preference": ("values", "preferred_observation", "strength"),
    "prior": ("values", "initial_state"),
}


@contextmanager
def _at(place: int) -> Iterator[None]:
    """Re-raise any model or spec error inside as a ``SpecError`` at ``place``."""
    try:
        yield
    except ModelError as exc:
        raise SpecError(f"{place}: {exc}", path=str(place)) from None


def _error(place: int, message: str) -> SpecError:
    return SpecError(f"{place}: {message}", path=str(place))


@dataclass
class _Caveats:
    """Where compiling assumed something: a warning each, or an error when ``strict``."""

    strict: bool
    notes: list[str] = field(default_factory=list)

    def note(self, place: int | str, message: str) -> None:
        if self.strict:
            raise SpecError(f"{place}: {message} (refused: strict)", path=str(place))
        self.notes.append(f"{place}: {message}")


@dataclass
class _Relations:
    """For each relation, owner node id -> [(other node id, edge line)] in edge order."""

    links: dict[str, dict[str, list[tuple[str, int]]]] = field(default_factory=dict)

    def get(self, relation: str, owner: str) -> list[tuple[str, int]]:
        return self.links.get(relation, {}).get(owner, [])

    def owners_of(self, relation: str, other: str) -> list[tuple[str, int]]:
        """The owners linked to ``other``: (owner id, edge line)."""
        found = []
        for owner, targets in self.links.get(relation, {}).items():
            found += [(owner, line) for target, line in targets if target == other]
        return sorted(found, key=lambda item: item[1])


def _relations(graph: GMNGraph, caveats: _Caveats) -> _Relations:
    types = {n.id: n.type for n in graph.nodes}
    relations = _Relations()
    for edge in graph.edges:
        key = (types[edge.source], types[edge.target], edge.type)
        if key[0] in METADATA_NODE_TYPES or key[1] in METADATA_NODE_TYPES:
            continue  # noted once per metadata node
        if key not in _MEANINGS:
            caveats.note(
                edge.line,
                f"'{edge.source} -> {edge.target}: {edge.type}' links {key[0]} to {key[1]}, "
                f"which has no meaning, and is ignored; edges: {'; '.join(_ALLOWED_EDGES)}",
            )
            continue
        relation, owner_end = _MEANINGS[key]
        ends = (edge.source, edge.target)
        owner, other = ends[owner_end], ends[1 - owner_end]
        targets = relations.links.setdefault(relation, {}).setdefault(owner, [])
        for previous, line in targets:
            if previous == other:
                raise _error(edge.line, f"repeats the edge of {line}")
        targets.append((other, edge.line))
    return relations


def _single(links: list[tuple[str, int]], what: str) -> str | None:
    """The one linked node, ``None`` for none; a second link is an error at its line."""
    if len(links) > 1:
        raise _error(links[1][1], f"{what} is already given on {links[0][1]}")
    return links[0][0] if links else None


def _space(
    node: GMNNode,
    count_key: str,
    names_key: str,
    prefix: str,
    caveats: _Caveats,
    limits: ModelLimits,
) -> tuple[str, ...]:
    """The names of a state, observation or action node (generated from the count if unnamed)."""
    with _at(node.line):
        check_keys(node.props, node.id, allowed=_PROPS[node.type])
        names = None
        if names_key in node.props:
            names = as_names(node.props[names_key], join(node.id, names_key), names_key)
        if count_key in node.props:
            count = as_int(node.props[count_key], join(node.id, count_key), minimum=1)
            if count > limits.max_states:
                raise LimitError(
                    f"line {node.line}: {node.id}.{count_key} is {count}, over "
                    f"{limits.max_states} (limit max_states)",
                    limit="max_states",
                )
            if names is not None and len(names) != count:
                fail(node.id, f"{count_key} is {count} but {names_key} lists {len(names)}")
            return names or tuple(f"{prefix}{i}" for i in range(count))
        if names is None:
            message = f"{node.id!r} gives neither {count_key} nor {names_key}; size 1"
            caveats.note(node.line, message)
            return (f"{prefix}0",)
        return names


def _matrix(node: GMNNode, expected: tuple[int, ...], meaning: str) -> np.ndarray:
    name = join(node.id, "matrix")
    try:
        array = np.asarray(node.props["matrix"], dtype=np.float64)
    except (TypeError, ValueError):
        fail(name, "expected a rectangular nested list of numbers")
    check_shape(name, array, expected, meaning)
    check_distribution_columns(name, array)
    return array


def _kind(node: GMNNode, default: str) -> str:
    if "kind" in node.props and "matrix" in node.props:
        fail(node.id, "give either 'matrix' or 'kind', not both")
    kind = node.props.get("kind", default)
    if kind not in ("identity", "uniform"):
        fail(join(node.id, "kind"), f"expected 'identity' or 'uniform', got {kind!r}")
    return kind


def _likelihood(
    node: GMNNode, outcomes: Sequence[str], deps: list[int], states: list[tuple[str, ...]]
) -> np.ndarray:
    """``A[m]``: ``(O_m, *S[deps])``."""
    dep_sizes = tuple(len(states[f]) for f in deps)
    shape = (len(outcomes), *dep_sizes)
    check_keys(node.props, node.id, allowed=_PROPS["likelihood"])
    if "matrix" in node.props:
        if "noise" in node.props:
            fail(join(node.id, "noise"), "'noise' applies to kind 'identity', not to a matrix")
        return _matrix(node, shape, "outcomes, states of each factor it depends on")
    square = len(deps) == 1 and dep_sizes[0] == len(outcomes)
    kind = _kind(node, "identity" if square else "uniform")
    if kind == "uniform":
        if "noise" in node.props:
            fail(join(node.id, "noise"), "'noise' applies to kind 'identity' only")
        return np.full(shape, 1.0 / len(outcomes))
    if not square:
        fail(
            join(node.id, "kind"),
            f"'identity' needs one dependency factor with as many states as outcomes; "
            f"it depends on factors of sizes {list(dep_sizes)} and has {len(outcomes)} outcomes",
        )
    noise = as_number(node.props.get("noise", 0.0), join(node.id, "noise"), probability=True)
    if noise > 1.0:
        fail(join(node.id, "noise"), f"noise is a probability, got {noise!r}")
    return identity_matrix(len(outcomes), noise)


def _transition(
    node: GMNNode | None, f: int, deps: list[int], sizes: list[int], num_controls: int
) -> np.ndarray:
    """``B[f]``: ``(S_f, *S[deps], U_f)``."""
    shape = (sizes[f], *(sizes[g] for g in deps), num_controls)
    props = node.props if node is not None else {}
    if node is not None:
        check_keys(props, node.id, allowed=_PROPS["transition"])
        if "matrix" in props:
            return _matrix(node, shape, "next states, states of each dependency, controls")
    kind = _kind(node, "identity" if f in deps else "uniform") if node else "identity"
    if kind == "uniform":
        return np.full(shape, 1.0 / sizes[f])
    if f not in deps:
        assert node is not None  # a factor without a transition node depends on itself
        fail(join(node.id, "kind"), "'identity' needs the factor among its dependencies")
    own = deps.index(f)
    view = [1] * (len(deps) + 1)
    view[0], view[own + 1] = sizes[f], sizes[f]
    eye = np.eye(sizes[f]).reshape(view)  # next state equals the factor's current state
    return np.broadcast_to(eye[..., None], shape).copy()


def _vector(node: GMNNode, names: Sequence[str], one_key: str, probabilities: bool) -> np.ndarray:
    """``C[m]`` or ``D[f]`` from ``values`` or a single named/indexed entry."""
    check_keys(node.props, node.id, allowed=_PROPS[node.type])
    if "strength" in node.props and one_key not in node.props:
        fail(join(node.id, "strength"), f"'strength' goes with {one_key!r}")
    if "values" in node.props:
        if one_key in node.props:
            fail(node.id, f"give either 'values' or {one_key!r}, not both")
        path = join(node.id, "values")
        items = as_list(node.props["values"], path, "a list of numbers")
        if len(items) != len(names):
            fail(path, f"has {len(items)} entries, expected {len(names)} ({', '.join(names)})")
        vector = np.array([as_number(v, join(path, i)) for i, v in enumerate(items)])
        check_finite(path, vector)
        if probabilities:
            check_distribution_columns(path, vector)
        return vector
    if one_key not in node.props:
        if probabilities:
            return np.full(len(names), 1.0 / len(names))
        return np.zeros(len(names))
    path = join(node.id, one_key)
    choice = node.props[one_key]
    if isinstance(choice, str) and not choice.isdigit():
        if choice not in names:
            fail(path, f"{choice!r} is not one of {', '.join(names)}")
        index = names.index(choice)
    else:
        index = as_int(int(choice) if isinstance(choice, str) else choice, path, minimum=0)
        if index >= len(names):
            fail(path, f"index {index} is out of range 0..{len(names) - 1}")
    vector = np.zeros(len(names))
    if probabilities:
        vector[index] = 1.0
    else:
        vector[index] = as_number(node.props.get("strength", 1.0), join(node.id, "strength"))
    return vector


def compile_gmn(
    source: str | Mapping[str, Any] | GMNGraph,
    *,
    policy_len: int = 1,
    strict: bool = False,
    on_warning: Callable[[str], None] | None = None,
    limits: ModelLimits = DEFAULT_MODEL_LIMITS,
) -> GenerativeModel:
    """Compile GMN (text, the JSON form as text or object, or a parsed graph) to a model.

    The model plans ``policy_len`` steps ahead. What the original format accepted with
    an assumption (see the module docstring) is reported to ``on_warning`` as one
    message each, or as a :class:`GMNWarning` when no callback is given; with
    ``strict=True`` each is an error instead. A model over ``limits`` raises
    :class:`~freeagentics.errors.LimitError` before any array (or name list) is built.
    """
    caveats = _Caveats(strict)
    graph = source if isinstance(source, GMNGraph) else parse_gmn(source, strict=strict)
    for place, message in graph.warnings:
        caveats.note(place, message)
    state_nodes, obs_nodes = graph.of_type("state"), graph.of_type("observation")
    if not state_nodes:
        raise SpecError("the GMN declares no 'state' node; a model needs a hidden-state factor")
    if not obs_nodes:
        raise SpecError("the GMN declares no 'observation' node; a model needs a modality")
    _note_metadata(graph, caveats)
    relations = _relations(graph, caveats)
    factor_of = {n.id: f for f, n in enumerate(state_nodes)}
    for what, nodes in (("factors", state_nodes), ("modalities", obs_nodes)):
        if len(nodes) > limits.max_factors:
            raise LimitError(
                f"model: {len(nodes)} {what}, over {limits.max_factors} (limit max_factors)",
                limit="max_factors",
            )
    states = [_space(n, "num_states", "states", "s", caveats, limits) for n in state_nodes]
    outcomes = [_space(n, "num_observations", "outcomes", "o", caveats, limits) for n in obs_nodes]
    sizes = [len(s) for s in states]

    transitions, actions = _factor_links(graph, relations, state_nodes, caveats)
    controls: list[tuple[str, ...]] = []
    for f in range(len(state_nodes)):
        action = actions.get(f)
        controls.append(
            () if action is None else _space(action, "num_actions", "actions", "u", caveats, limits)
        )
    B_deps = []
    for f in range(len(state_nodes)):
        node = transitions.get(f)
        links = relations.get("transition_deps", node.id) if node else []
        B_deps.append([factor_of[s] for s, _ in links] or [f])
    check_model_size(
        sizes,
        [len(o) for o in outcomes],
        [max(1, len(c)) for c in controls],
        A_deps=[_likelihood_deps(relations, obs, factor_of) for obs in obs_nodes],
        B_deps=B_deps,
        policy_len=policy_len,
        limits=limits,
    )

    A, A_deps = _likelihoods(graph, relations, obs_nodes, factor_of, states, outcomes, caveats)
    B = []
    for f, state in enumerate(state_nodes):
        node = transitions.get(f)
        with _at(node.line if node else state.line):
            B.append(_transition(node, f, B_deps[f], sizes, max(1, len(controls[f]))))

    C = [np.zeros(len(o)) for o in outcomes]
    D = [np.full(s, 1.0 / s) for s in sizes]
    obs_ids = [n.id for n in obs_nodes]
    for kind, targets, ids, vectors, names in (
        ("preference", "preference_obs", obs_ids, C, outcomes),
        ("prior", "prior_state", list(factor_of), D, states),
    ):
        taken: dict[int, int] = {}
        what = "observation" if kind == "preference" else "state"
        for node in graph.of_type(kind):
            target = _single(relations.get(targets, node.id), f"the target of {kind} {node.id!r}")
            if target is None:
                free = [t for i, t in enumerate(ids) if i not in taken]
                if len(ids) != 1 or not free:
                    caveats.note(node.line, f"{kind} {node.id!r} is linked to no {what}; ignored")
                    continue
                target = ids[0]
                caveats.note(node.line, f"{kind} {node.id!r} is linked to no {what}; {target!r}")
            i = ids.index(target)
            if i in taken:
                raise _error(node.line, f"{target!r} already has a {kind} on {taken[i]}")
            taken[i] = node.line
            with _at(node.line):
                one_key = "preferred_observation" if kind == "preference" else "initial_state"
                vectors[i] = _vector(node, names[i], one_key, probabilities=kind == "prior")

    labels = Labels(
        factors=tuple(n.id for n in state_nodes),
        states=tuple(states),
        modalities=tuple(obs_ids),
        outcomes=tuple(outcomes),
        controls=tuple(controls),
    )
    try:
        model = GenerativeModel.create(
            A,
            B,
            C,
            D,
            policy_len=policy_len,
            A_deps=A_deps,
            B_deps=B_deps,
            labels=labels,
            limits=limits,
        )
    except ModelError as exc:  # each array was checked at its line; this is a safety net
        raise SpecError(f"the GMN compiles to an invalid model: {exc}") from exc
    for note in caveats.notes:
        if on_warning is not None:
            on_warning(note)
        else:
            warnings.warn(note, GMNWarning, stacklevel=2)
    return model


def _note_metadata(graph: GMNGraph, caveats: _Caveats) -> None:
    """One note per node that carries no model array, with how many edges touch it."""
    for node in graph.nodes:
        if node.type in METADATA_NODE_TYPES:
            edges = sum(node.id in (e.source, e.target) for e in graph.edges)
            caveats.note(
                node.line,
                f"{node.type} node {node.id!r} carries no model array; kept as metadata "
                f"with its {edges} edge(s)",
            )


def _likelihood_deps(relations: _Relations, obs: GMNNode, factor_of: dict[str, int]) -> list[int]:
    """The factors ``obs``'s likelihood depends on: those its likelihood node (or, with
    none, the observation itself) is linked to; every factor when it names none."""
    owners = relations.owners_of("likelihood_obs", obs.id)
    if owners:
        links = relations.get("likelihood_deps", owners[0][0])
    else:
        links = relations.get("direct_obs", obs.id)
    return [factor_of[s] for s, _ in links] or list(factor_of.values())


def _likelihoods(
    graph: GMNGraph,
    relations: _Relations,
    obs_nodes: list[GMNNode],
    factor_of: dict[str, int],
    states: list[tuple[str, ...]],
    outcomes: list[tuple[str, ...]],
    caveats: _Caveats,
) -> tuple[list[np.ndarray], list[list[int]]]:
    for node in graph.of_type("likelihood"):
        if _single(relations.get("likelihood_obs", node.id), f"what {node.id!r} generates") is None:
            caveats.note(
                node.line,
                f"likelihood {node.id!r} generates no observation and is ignored; "
                f"add '{node.id} -> <observation>: generates'",
            )
    A, A_deps = [], []
    for m, obs in enumerate(obs_nodes):
        owners = relations.owners_of("likelihood_obs", obs.id)
        if len(owners) > 1:
            raise _error(owners[1][1], f"observation {obs.id!r} already has a likelihood")
        if owners:
            node = graph.node(owners[0][0])
            deps = _likelihood_deps(relations, obs, factor_of)
            with _at(node.line):
                A.append(_likelihood(node, outcomes[m], deps, states))
        else:
            deps, matrix, note = _implied_likelihood(obs, relations, factor_of, states, outcomes[m])
            A.append(matrix)
            caveats.note(obs.line, note)
        A_deps.append(deps)
    return A, A_deps


def _implied_likelihood(
    obs: GMNNode,
    relations: _Relations,
    factor_of: dict[str, int],
    states: list[tuple[str, ...]],
    outcomes: Sequence[str],
) -> tuple[list[int], np.ndarray, str]:
    """``A[m]`` of an observation with no likelihood node, its dependencies, and a note.

    Linked straight to one factor of its size: the identity (the original's meaning);
    otherwise uniform over the linked factors (all factors when linked to none).
    """
    linked = [s for s, _ in relations.get("direct_obs", obs.id)]
    deps = [factor_of[s] for s in linked] or list(range(len(states)))
    shape = (len(outcomes), *(len(states[f]) for f in deps))
    if not linked:
        note = f"observation {obs.id!r} has no likelihood; it is uninformative (uniform)"
        return deps, np.full(shape, 1.0 / len(outcomes)), note
    names = ", ".join(map(repr, linked))
    note = f"observation {obs.id!r} is linked straight to {names} with no likelihood node; "
    if len(deps) == 1 and shape[0] == shape[1]:
        return deps, identity_matrix(shape[0], 0.0), note + "its likelihood is the identity"
    return deps, np.full(shape, 1.0 / len(outcomes)), note + "sizes differ: uniform likelihood"


def _factor_links(
    graph: GMNGraph, relations: _Relations, state_nodes: list[GMNNode], caveats: _Caveats
) -> tuple[dict[int, GMNNode], dict[int, GMNNode]]:
    """The transition node and the action node of each factor (by factor index)."""
    factor_of = {n.id: f for f, n in enumerate(state_nodes)}
    transitions: dict[int, GMNNode] = {}
    actions: dict[int, GMNNode] = {}
    action_lines: dict[str, tuple[int, int]] = {}  # action id -> (factor, place of the link)

    def attach(action_id: str, f: int, line: int) -> None:
        if action_id in action_lines and action_lines[action_id][0] != f:
            first_f, first_line = action_lines[action_id]
            raise _error(
                line,
                f"action {action_id!r} already controls {state_nodes[first_f].id!r} "
                f"({first_line}); declare one action node per factor",
            )
        if f in actions and actions[f].id != action_id:
            raise _error(line, f"{state_nodes[f].id!r} is already controlled by {actions[f].id!r}")
        action_lines[action_id] = (f, line)
        actions[f] = graph.node(action_id)

    for node in graph.of_type("transition"):
        target = _single(relations.get("transition_target", node.id), f"what {node.id!r} generates")
        deps = relations.get("transition_deps", node.id)
        if target is None and len(deps) > 1:
            raise _error(
                node.line,
                f"transition {node.id!r} does not say which factor it is for; "
                f"add '{node.id} -> <state>: generates'",
            )
        if target is None and deps:
            target = deps[0][0]
        if target is None:
            if len(state_nodes) != 1 or 0 in transitions:
                caveats.note(node.line, f"transition {node.id!r} is tied to no factor; ignored")
                continue
            target = state_nodes[0].id
            caveats.note(node.line, f"transition {node.id!r} is tied to no factor; {target!r}")
        f = factor_of[target]
        if f in transitions:
            raise _error(node.line, f"{target!r} already has a transition on {transitions[f].line}")
        transitions[f] = node
        for action_id, line in relations.get("transition_action", node.id):
            attach(action_id, f, line)
    for action in graph.of_type("action"):
        for target, line in relations.get("action_factor", action.id):
            attach(action.id, factor_of[target], line)
    for action in graph.of_type("action"):
        if action.id in action_lines:
            continue
        free = [f for f in range(len(state_nodes)) if f not in actions]
        if len(free) == 1 and len(state_nodes) == 1:
            caveats.note(
                action.line,
                f"action {action.id!r} controls no factor; it controls {state_nodes[0].id!r}, "
                f"the only one",
            )
            attach(action.id, 0, action.line)
        else:
            caveats.note(
                action.line,
                f"action {action.id!r} controls no factor and is ignored; add '{action.id} -> "
                f"<transition>: depends_on' or '{action.id} -> <state>: influences'",
            )
    return transitions, actions
