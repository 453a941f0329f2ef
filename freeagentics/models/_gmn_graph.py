"""The graph a GMN document describes: typed nodes and edges, wherever they were written.

Both GMN forms, the text (:mod:`._gmn`) and the JSON form (:mod:`._gmn_json`), parse to
a :class:`GMNGraph`; :func:`~freeagentics.models.compile_gmn` compiles it to a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EDGE_TYPES",
    "ID_PATTERN",
    "METADATA_NODE_TYPES",
    "NODE_TYPES",
    "GMNEdge",
    "GMNGraph",
    "GMNNode",
    "GMNWarning",
    "Place",
    "node_type",
    "unknown_node_type",
]

NODE_TYPES = (
    "state",
    "observation",
    "action",
    "likelihood",
    "transition",
    "preference",
    "prior",
)
#: Node types the original format had that carry no model array: kept as metadata.
METADATA_NODE_TYPES = ("llm_query", "policy")
_NODE_ALIASES = {"belief": "prior"}
EDGE_TYPES = ("depends_on", "generates", "influences", "updates", "queries")

ID_PATTERN = r"[A-Za-z_][A-Za-z0-9_]*"


class GMNWarning(UserWarning):
    """Something in a GMN document was accepted as the original format did, with a caveat."""


class Place(int):
    """Where a node or edge was written: orders like an ``int``, prints as ``line 7``.

    Nodes and edges of the JSON form print as ``nodes[3]`` / ``edges[0]`` instead.
    """

    label: str

    def __new__(cls, order: int, label: str | None = None) -> Place:
        place = super().__new__(cls, order)
        if label is None:
            label = order.label if isinstance(order, Place) else f"line {int(order)}"
        place.label = label
        return place

    def __str__(self) -> str:
        return self.label

    def __format__(self, spec: str) -> str:
        return format(self.label, spec)

    def __repr__(self) -> str:
        return self.label


@dataclass(frozen=True)
class GMNNode:
    """One ``id: type {props}`` line (or one entry of the JSON form's ``nodes``)."""

    id: str
    type: str
    props: dict[str, Any] = field(default_factory=dict)
    line: int = 0
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class GMNEdge:
    """One ``source -> target: type {props}`` line (or one entry of ``edges``)."""

    source: str
    target: str
    type: str
    line: int = 0
    props: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class GMNGraph:
    """A parsed GMN document: nodes and edges in the order they were written.

    ``warnings`` are ``(place, message)`` pairs for what parsing accepted with a caveat
    (lines of prose, unreadable props of metadata nodes); ``metadata`` holds the JSON
    form's document-level fields (``name``, ``description``, ``metadata``).
    """

    nodes: tuple[GMNNode, ...]
    edges: tuple[GMNEdge, ...]
    warnings: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)

    def node(self, node_id: str) -> GMNNode:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def of_type(self, node_type: str) -> list[GMNNode]:
        return [n for n in self.nodes if n.type == node_type]


def node_type(raw: str) -> str | None:
    """The canonical node type for ``raw`` (aliases resolved), ``None`` if unknown."""
    name = raw.lower()
    name = _NODE_ALIASES.get(name, name)
    return name if name in NODE_TYPES or name in METADATA_NODE_TYPES else None


def unknown_node_type(raw: object) -> str:
    """The message for a node type that is not one of the known ones."""
    return (
        f"unknown node type {raw!r}; node types: {', '.join(NODE_TYPES)} "
        f"(and {', '.join(METADATA_NODE_TYPES)}, kept as metadata)"
    )
