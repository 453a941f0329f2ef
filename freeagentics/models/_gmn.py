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
``llm_query``,  no model array: kept on the graph as metadata (with a warning), as are
``policy``      their ``queries`` and ``updates`` edges
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
- ``preference -> observation: depends_on``, ``prior -> state: depends_on``;
- ``state -> observation: generates`` (or ``depends_on``) — the original's shortcut for
  a likelihood: the identity when the sizes agree, else uniform.

Factors and modalities keep the order of their ``state`` and ``observation`` lines. A
state without a transition keeps its state; one without a prior starts uniform. An edge
may carry ``{props}`` after its type (kept, unused). The same graph can be written in
the original system's JSON form, ``{"nodes": [...], "edges": [...]}`` (see
:mod:`._gmn_json`). What the original parser accepted loosely (prose around the
sections, sizes left out, nodes tied to nothing) compiles with warnings; see
:func:`~freeagentics.models.compile_gmn`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from freeagentics.errors import SpecError
from freeagentics.models._gmn_graph import (
    EDGE_TYPES,
    ID_PATTERN,
    METADATA_NODE_TYPES,
    GMNEdge,
    GMNGraph,
    GMNNode,
    Place,
    node_type,
    unknown_node_type,
)
from freeagentics.models._gmn_json import parse_gmn_json
from freeagentics.models._gmn_props import PropsSyntaxError, parse_props

__all__ = ["parse_gmn"]

_SECTION = re.compile(r"\[\s*(\w+)\s*\]\s*(#.*)?\Z")
_NODE = re.compile(rf"({ID_PATTERN})\s*:\s*({ID_PATTERN})\s*")
_EDGE = re.compile(
    rf"({ID_PATTERN})\s*->\s*({ID_PATTERN})\s*:\s*({ID_PATTERN})\s*(\{{.*\}})?\s*(#.*)?\Z"
)


def _fail(line: int, message: str) -> SpecError:
    place = str(Place(line))
    return SpecError(f"{place}: {message}", path=place)


def _is_prose(line: str) -> bool:
    """A sentence: no ``:`` nor ``->`` (so neither a node nor an edge), and four words or more
    or closing punctuation (so not a definition with a typo, such as ``x state``)."""
    if ":" in line or "->" in line or "{" in line:
        return False
    return len(line.split()) >= 4 or line.endswith((".", "!", "?"))


def parse_gmn(text: str | Mapping[str, Any], *, strict: bool = False) -> GMNGraph:
    """Parse GMN text into a :class:`GMNGraph`; syntax errors raise ``SpecError`` at ``line N``.

    Checks what the text alone can show: sections, line syntax, node and edge types,
    duplicated ids, and edges naming nodes that do not exist. What the graph means is
    checked by :func:`compile_gmn`. A mapping, or text that is a JSON object, is the
    JSON form (``{"nodes": [...], "edges": [...]}``, see :mod:`._gmn_json`).

    As the original format did, text before the first section header and lines of
    prose (with neither ``:`` nor ``->``) inside a section are skipped, each noted in
    ``graph.warnings``; ``strict=True`` refuses them instead.
    """
    if isinstance(text, Mapping):
        return parse_gmn_json(text, strict=strict)
    if not isinstance(text, str):
        raise SpecError(f"GMN must be text or a JSON object, got {type(text).__name__}")
    if text.lstrip().startswith("{"):
        return parse_gmn_json(text, strict=strict)
    nodes: list[GMNNode] = []
    edges: list[GMNEdge] = []
    warnings: list[tuple[str, str]] = []
    section = None
    lines = text.splitlines()
    preamble: list[int] = []
    number = 0
    while number < len(lines):
        raw = lines[number]
        number += 1
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        header = _SECTION.match(line)
        if header:
            if preamble and strict:
                raise _fail(preamble[0], "expected a [nodes] or [edges] section header first")
            section = header.group(1).lower()
            if section not in ("nodes", "edges"):
                raise _fail(number, f"unknown section [{section}]; expected [nodes] or [edges]")
            continue
        if section is None:
            preamble.append(number)
            continue
        if _is_prose(line):
            if strict:
                raise _fail(number, f"expected a node or an edge, got {line!r}")
            warnings.append((f"line {number}", f"a line of prose was skipped: {line[:60]!r}"))
        elif section == "nodes":
            node, used, caveat = _node(lines, number, nodes)
            nodes.append(node)
            if caveat:
                warnings.append((f"line {number}", caveat))
            number += used
        else:
            edges.append(_edge(line, number))
    if preamble:
        if section is None or strict:
            raise _fail(preamble[0], "expected a [nodes] or [edges] section header first")
        warnings.insert(
            0,
            (
                f"line {preamble[0]}",
                f"{len(preamble)} line(s) before the first section header were skipped",
            ),
        )
    ids = {n.id for n in nodes}
    for edge in edges:
        for end in (edge.source, edge.target):
            if end not in ids:
                raise _fail(edge.line, f"edge names unknown node {end!r}")
    return GMNGraph(tuple(nodes), tuple(edges), tuple(warnings))


def _node(lines: list[str], number: int, earlier: list[GMNNode]) -> tuple[GMNNode, int, str | None]:
    """The node declared on line ``number``, how many more lines its props took, and a caveat."""
    raw = lines[number - 1]
    line = raw.strip()
    match = _NODE.match(line)
    if not match:
        if "->" in line:
            raise _fail(number, "an edge line in the [nodes] section; add an [edges] header")
        raise _fail(number, f"expected 'id: type {{props}}', got {line!r}")
    node_id, kind = match.group(1), node_type(match.group(2))
    if kind is None:
        raise _fail(number, unknown_node_type(match.group(2)))
    for other in earlier:
        if other.id == node_id:
            raise _fail(number, f"node {node_id!r} is already declared on {other.line}")
    rest = line[match.end() :]
    if rest and not rest.startswith(("{", "#")):
        raise _fail(
            number, f"expected '{{props}}' or the end of the line after the type, got {rest!r}"
        )
    if not rest.startswith("{"):
        return GMNNode(node_id, kind, {}, Place(number)), 0, None
    start = raw.index(rest)
    try:
        props, used = _props(lines, number, raw, start)
    except SpecError:
        if kind not in METADATA_NODE_TYPES:
            raise
        # the original skipped what it could not read; metadata nodes carry no arrays
        used = _bracket_extent(lines, number, start)
        text = "\n".join(lines[number - 1 : number + used])[start:]
        caveat = f"the props of {kind} node {node_id!r} could not be read; kept as raw text"
        return GMNNode(node_id, kind, {"text": text}, Place(number)), used, caveat
    return GMNNode(node_id, kind, props, Place(number)), used, None


def _props(lines: list[str], number: int, raw: str, start: int) -> tuple[dict[str, Any], int]:
    """Props starting at ``raw[start]``, continued on later lines while a bracket is open."""
    text, used = raw, 0
    while True:
        try:
            return parse_props(text, start), used
        except PropsSyntaxError as exc:
            if exc.incomplete and number + used < len(lines):
                used += 1  # an open bracket continues on the next line
                text += "\n" + lines[number + used - 1]
                continue
            before = text[: exc.pos]
            at_line = number + before.count("\n")
            column = exc.pos - (before.rfind("\n") + 1) + 1
            raise _fail(at_line, f"column {column}: {exc}") from None


def _bracket_extent(lines: list[str], number: int, start: int) -> int:
    """How many lines after ``number`` it takes for the braces opened at ``start`` to close."""
    depth, used = 0, 0
    text = lines[number - 1][start:]
    while True:
        depth += text.count("{") - text.count("}")
        if depth <= 0 or number + used >= len(lines):
            return used
        used += 1
        text = lines[number + used - 1]


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
    props: dict[str, Any] = {}
    if match.group(4):
        try:
            props = parse_props(match.group(4))
        except PropsSyntaxError as exc:
            raise _fail(number, f"edge props: {exc}") from None
    return GMNEdge(source, target, edge_type, Place(number), props)
