"""The JSON form of GMN: ``{"nodes": [...], "edges": [...]}``, as the original system wrote it.

Each node is ``{"id": ..., "type": ..., "properties": {...}, "metadata": {...}}`` (``type``
defaults to ``state``, ``properties`` and ``metadata`` to empty); each edge is
``{"source": ..., "target": ..., "type": ..., "properties": {...}}`` (``type`` defaults to
``depends_on``). The document may also carry ``name``, ``description`` and ``metadata``,
kept on the graph. Properties mean what they mean in the text form (see :mod:`._gmn`),
and the graph compiles the same way; errors and warnings name ``nodes[i]`` or
``edges[j]`` where the text form names a line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from freeagentics.errors import SpecError
from freeagentics.models._gmn_graph import (
    EDGE_TYPES,
    ID_PATTERN,
    GMNEdge,
    GMNGraph,
    GMNNode,
    Place,
    node_type,
    unknown_node_type,
)

__all__ = ["parse_gmn_json"]

_DOCUMENT_KEYS = ("nodes", "edges", "metadata", "name", "description")
_NODE_KEYS = ("id", "type", "properties", "metadata")
_EDGE_KEYS = ("source", "target", "type", "properties")


def _fail(path: str, message: str) -> SpecError:
    return SpecError(f"{path}: {message}", path=path)


def _mapping(value: Any, path: str, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(path, f"expected {what} (an object), got {type(value).__name__}")
    return value


def _identifier(value: Any, path: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(ID_PATTERN, value):
        raise _fail(path, f"expected an identifier (letters, digits, '_'), got {value!r}")
    return value


def _extra_keys(
    entry: Mapping[str, Any], allowed: tuple[str, ...], path: str, strict: bool
) -> list[tuple[str, str]]:
    extra = [k for k in entry if k not in allowed]
    if not extra:
        return []
    message = f"unknown key(s) {', '.join(map(repr, extra))} ignored; keys: {', '.join(allowed)}"
    if strict:
        raise _fail(path, message)
    return [(path, message)]


def parse_gmn_json(source: str | Mapping[str, Any], *, strict: bool = False) -> GMNGraph:
    """The :class:`GMNGraph` of a JSON-form document (text, or the decoded object)."""
    if isinstance(source, str):
        try:
            source = json.loads(source)
        except json.JSONDecodeError as exc:
            raise SpecError(
                f"line {exc.lineno}: invalid JSON: {exc.msg}", path=f"line {exc.lineno}"
            ) from None
    document = _mapping(source, "document", "a GMN document")
    warnings = _extra_keys(document, _DOCUMENT_KEYS, "document", strict)
    for key in ("nodes", "edges"):
        if key not in document:
            raise _fail(key, "missing: the JSON form needs both 'nodes' and 'edges' lists")
        if not isinstance(document[key], list):
            raise _fail(key, f"expected a list, got {type(document[key]).__name__}")
    nodes: list[GMNNode] = []
    seen: dict[str, str] = {}
    for i, raw in enumerate(document["nodes"]):
        path = f"nodes[{i}]"
        entry = _mapping(raw, path, "a node")
        warnings += _extra_keys(entry, _NODE_KEYS, path, strict)
        if "id" not in entry:
            raise _fail(path, "missing 'id'")
        node_id = _identifier(entry["id"], f"{path}.id")
        if node_id in seen:
            raise _fail(path, f"node {node_id!r} is already declared at {seen[node_id]}")
        seen[node_id] = path
        raw_type = entry.get("type", "state")
        kind = node_type(raw_type) if isinstance(raw_type, str) else None
        if kind is None:
            raise _fail(f"{path}.type", unknown_node_type(raw_type))
        props = dict(_mapping(entry.get("properties", {}), f"{path}.properties", "properties"))
        metadata = dict(_mapping(entry.get("metadata", {}), f"{path}.metadata", "metadata"))
        place = Place(i + 1, f"{path} ({node_id})")
        nodes.append(GMNNode(node_id, kind, props, place, metadata))
    edges: list[GMNEdge] = []
    for j, raw in enumerate(document["edges"]):
        path = f"edges[{j}]"
        entry = _mapping(raw, path, "an edge")
        warnings += _extra_keys(entry, _EDGE_KEYS, path, strict)
        ends = []
        for end in ("source", "target"):
            if end not in entry:
                raise _fail(path, f"missing {end!r}")
            name = _identifier(entry[end], f"{path}.{end}")
            if name not in seen:
                raise _fail(f"{path}.{end}", f"edge names unknown node {name!r}")
            ends.append(name)
        edge_type = entry.get("type", "depends_on")
        if not isinstance(edge_type, str) or edge_type.lower() not in EDGE_TYPES:
            raise _fail(
                f"{path}.type",
                f"unknown edge type {edge_type!r}; edge types: {', '.join(EDGE_TYPES)}",
            )
        props = dict(_mapping(entry.get("properties", {}), f"{path}.properties", "properties"))
        place = Place(len(nodes) + j + 1, f"{path} ({ends[0]} -> {ends[1]})")
        edges.append(GMNEdge(ends[0], ends[1], edge_type.lower(), place, props))
    metadata = {k: document[k] for k in ("name", "description", "metadata") if k in document}
    return GMNGraph(tuple(nodes), tuple(edges), tuple(warnings), metadata)
