"""The GMN text form of FreeAgentics: a model as a graph of typed nodes and edges.

A GMN document has two sections. ``[nodes]`` holds lines ``id: type {props}``;
``[edges]`` holds lines ``source -> target: edge_type``. Blank lines and ``#``
comments are allowed anywhere; ids are identifiers (letters, digits, ``_``). Props
are JSON or its relaxed form (unquoted keys and words, see :mod:`._gmn_props`) and
continue on the following lines while a bracket is open. A full example, the tiger
task::

    # the agent listens, then opens a door
    [nodes]
    location: state {states: [start, left, right]}
    context: state {states: [tiger_left, tiger_right]}
    move: action {actions: [stay, go_left, go_right]}
    hearing: observation {outcomes: [hear_left, hear_right]}
    where: observation {outcomes: [at_start, at_left, at_right]}
    A_hearing: likelihood {kind: identity, noise: 0.15}
    A_where: likelihood                       # identity: one dependency, equal sizes
    # B[next state, current state, control] in pymdp axis order; props may span lines
    B_location: transition {matrix: [
        [[1, 0, 0], [0, 0, 0], [0, 0, 0]],    # next = start
        [[0, 1, 0], [1, 1, 0], [0, 1, 0]],    # next = left
        [[0, 0, 1], [0, 0, 1], [1, 0, 1]]]}   # next = right
    C_where: preference {values: [0, 1, -1]}
    D_location: prior {initial_state: start}

    [edges]
    context -> A_hearing: depends_on
    A_hearing -> hearing: generates
    location -> A_where: depends_on
    A_where -> where: generates
    location -> B_location: depends_on
    move -> B_location: depends_on
    C_where -> where: depends_on
    D_location -> location: depends_on

Node types and their props (``belief`` is accepted for ``prior``):

==============  =====================================================================
``state``       a hidden-state factor: ``num_states`` and/or ``states`` (names)
``observation`` a modality: ``num_observations`` and/or ``outcomes`` (names)
``action``      the controls of one factor: ``num_actions`` and/or ``actions`` (names)
``likelihood``  ``A`` of one modality: ``matrix`` (``(O, *S_deps)``), or ``kind``
                ``identity`` (with ``noise``) / ``uniform``; default ``identity`` when
                it depends on one factor of the modality's size, else ``uniform``
``transition``  ``B`` of one factor: ``matrix`` (``(S, *S_deps, U)``) or ``kind``
                ``identity`` (the factor keeps its state; the default) / ``uniform``
``preference``  ``C`` of one modality: ``values`` (one per outcome), or
                ``preferred_observation`` (index or outcome name) with ``strength``
                (default 1); default zeros
``prior``       ``D`` of one factor: ``values`` (one per state) or ``initial_state``
                (index or name, probability 1); default uniform
==============  =====================================================================

Edges (``depends_on`` may point either way; the original FreeAgentics wrote
``state -> likelihood``):

- ``state -> likelihood: depends_on`` — the modality depends on that factor (in edge
  order; a likelihood with no such edge depends on every factor);
- ``likelihood -> observation: generates`` — required, one per likelihood and observation;
- ``state -> transition: depends_on`` — the factor's next state depends on that one
  (in edge order); ``transition -> state: generates`` names the factor a transition is
  for, otherwise it is its only ``depends_on`` state;
- ``action -> transition: depends_on`` or ``action -> state: influences`` — the action
  supplies the controls of that factor (one action per factor, one factor per action);
- ``preference -> observation: depends_on``, ``prior -> state: depends_on``.

Factors and modalities keep the order of their ``state`` and ``observation`` lines. A
state without a transition keeps its state; one without a prior starts uniform.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from freeagentics.errors import SpecError
from freeagentics.models._gmn_props import PropsSyntaxError, parse_props

__all__ = ["EDGE_TYPES", "NODE_TYPES", "GMNEdge", "GMNGraph", "GMNNode", "parse_gmn"]

NODE_TYPES = (
    "state",
    "observation",
    "action",
    "likelihood",
    "transition",
    "preference",
    "prior",
)
_NODE_ALIASES = {"belief": "prior"}
EDGE_TYPES = ("depends_on", "generates", "influences")

_ID = r"[A-Za-z_][A-Za-z0-9_]*"
_SECTION = re.compile(r"\[\s*(\w+)\s*\]\s*(#.*)?\Z")
_NODE = re.compile(rf"({_ID})\s*:\s*({_ID})\s*")
_EDGE = re.compile(rf"({_ID})\s*->\s*({_ID})\s*:\s*({_ID})\s*(#.*)?\Z")


@dataclass(frozen=True)
class GMNNode:
    """One ``id: type {props}`` line."""

    id: str
    type: str
    props: dict[str, Any] = field(default_factory=dict)
    line: int = 0


@dataclass(frozen=True)
class GMNEdge:
    """One ``source -> target: type`` line."""

    source: str
    target: str
    type: str
    line: int = 0


@dataclass(frozen=True)
class GMNGraph:
    """A parsed GMN document: nodes and edges in the order they were written."""

    nodes: tuple[GMNNode, ...]
    edges: tuple[GMNEdge, ...]

    def node(self, node_id: str) -> GMNNode:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def of_type(self, node_type: str) -> list[GMNNode]:
        return [n for n in self.nodes if n.type == node_type]


def _fail(line: int, message: str) -> SpecError:
    return SpecError(f"line {line}: {message}", path=f"line {line}")


def parse_gmn(text: str) -> GMNGraph:
    """Parse GMN text into a :class:`GMNGraph`; syntax errors raise ``SpecError`` at ``line N``.

    Checks what the text alone can show: sections, line syntax, node and edge types,
    duplicated ids, and edges naming nodes that do not exist. What the graph means is
    checked by :func:`compile_gmn`.
    """
    if not isinstance(text, str):
        raise SpecError(f"GMN must be text, got {type(text).__name__}")
    nodes: list[GMNNode] = []
    edges: list[GMNEdge] = []
    section = None
    lines = text.splitlines()
    number = 0
    while number < len(lines):
        raw = lines[number]
        number += 1
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        header = _SECTION.match(line)
        if header:
            section = header.group(1).lower()
            if section not in ("nodes", "edges"):
                raise _fail(number, f"unknown section [{section}]; expected [nodes] or [edges]")
            continue
        if section is None:
            raise _fail(number, "expected a [nodes] or [edges] section header first")
        if section == "nodes":
            node, used = _node(lines, number, nodes)
            nodes.append(node)
            number += used
        else:
            edges.append(_edge(line, number))
    ids = {n.id for n in nodes}
    for edge in edges:
        for end in (edge.source, edge.target):
            if end not in ids:
                raise _fail(edge.line, f"edge names unknown node {end!r}")
    return GMNGraph(tuple(nodes), tuple(edges))


def _node(lines: list[str], number: int, earlier: list[GMNNode]) -> tuple[GMNNode, int]:
    """The node declared on line ``number`` and how many more lines its props took."""
    raw = lines[number - 1]
    line = raw.strip()
    match = _NODE.match(line)
    if not match:
        if "->" in line:
            raise _fail(number, "an edge line in the [nodes] section; add an [edges] header")
        raise _fail(number, f"expected 'id: type {{props}}', got {line!r}")
    node_id, node_type = match.group(1), match.group(2).lower()
    node_type = _NODE_ALIASES.get(node_type, node_type)
    if node_type not in NODE_TYPES:
        raise _fail(
            number,
            f"unknown node type {match.group(2)!r}; node types: {', '.join(NODE_TYPES)}",
        )
    for other in earlier:
        if other.id == node_id:
            raise _fail(number, f"node {node_id!r} is already declared on line {other.line}")
    rest = line[match.end() :]
    if rest and not rest.startswith(("{", "#")):
        raise _fail(
            number, f"expected '{{props}}' or the end of the line after the type, got {rest!r}"
        )
    if not rest.startswith("{"):
        return GMNNode(node_id, node_type, {}, number), 0
    start = raw.index(rest)
    text, used = raw, 0
    while True:
        try:
            props = parse_props(text, start)
            return GMNNode(node_id, node_type, props, number), used
        except PropsSyntaxError as exc:
            if exc.incomplete and number + used < len(lines):
                used += 1  # an open bracket continues on the next line
                text += "\n" + lines[number + used - 1]
                continue
            before = text[: exc.pos]
            at_line = number + before.count("\n")
            column = exc.pos - (before.rfind("\n") + 1) + 1
            raise _fail(at_line, f"column {column}: {exc}") from None


def _edge(line: str, number: int) -> GMNEdge:
    match = _EDGE.match(line)
    if not match:
        if _NODE.match(line) and "->" not in line:
            raise _fail(number, "a node line in the [edges] section; move it under [nodes]")
        raise _fail(number, f"expected 'source -> target: edge_type', got {line!r}")
    source, target, edge_type = match.group(1), match.group(2), match.group(3).lower()
    if edge_type not in EDGE_TYPES:
        raise _fail(
            number, f"unknown edge type {match.group(3)!r}; edge types: {', '.join(EDGE_TYPES)}"
        )
    return GMNEdge(source, target, edge_type, number)
