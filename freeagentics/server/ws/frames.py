"""Frames the hub sends: one document per topic and tick, encoded once per format.

Every frame is a map (JSON object or MessagePack map)::

    {"type": "frame", "topic": "world", "sim_id": "s1", "tick": 12, "data": {...}}

``agent`` frames add ``"agent_id"``. What ``data`` holds per topic:

* ``world`` — ``n``, ``kind_names`` and typed arrays ``ids`` (int32, N), ``kinds``
  (uint8, N; index into ``kind_names``), ``positions`` (int16 or int32, N×2, row-major
  ``x, y``), ``coalition`` (int16 or int32, N; -1 = none), ``energy`` (float32, N).
  ``positions`` and ``coalition`` are int16 whenever every value fits, as it does on
  any grid up to 32 767 cells a side and until 32 767 coalitions have been formed: 15
  bytes an agent rather than 17.
* ``agent`` — one agent's row as plain values: ``kind``, ``position`` ``[x, y]``,
  ``action``, ``energy``, ``coalition``, ``metrics`` ``{name: value}``.
* ``coalitions`` — ``sizes`` ``{coalition id: members}`` and ``changes``, this tick's
  coalition events as lists (empty when nothing changed).
* ``metrics`` — ``n``, the mean of every per-agent metric, ``timings`` (seconds per stage),
  ``activity``: moving, alive and stuck agents this tick and ``warnings`` (a list of
  ``{"code", "message"}``: ``frozen``, ``stuck``, ``dying``; see
  :class:`~freeagentics.simulation.ActivityTracker`).
* ``knowledge`` — sent on ticks where the knowledge graph changed: ``version``,
  ``nodes``, ``edges``.

A typed array is ``{"dtype": "int16", "shape": [N, 2], "data": ...}``: ``data`` is the
raw little-endian bytes, a MessagePack ``bin`` in binary frames and a base64 string in
JSON frames (``new Int16Array(bytes.buffer)`` in a browser).

JSON frames go out as WebSocket text frames (``str``), MessagePack frames as binary
frames (``bytes``); each encoding is made once per topic and the same object is handed
to every subscriber of that format.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import msgpack
import numpy as np
import orjson

from freeagentics.simulation._events import TickEvents

__all__ = [
    "FORMATS",
    "KEEP_EVERY_FRAME",
    "TOPICS",
    "Format",
    "Payload",
    "Topic",
    "build",
    "canonical_sim_id",
    "decode_msgpack",
    "encode",
    "typed_array",
]

Format = Literal["json", "msgpack"]
#: An encoded frame: ``str`` for JSON (text frames), ``bytes`` for MessagePack (binary).
Payload = str | bytes
FORMATS: tuple[Format, ...] = ("json", "msgpack")
TOPICS = ("world", "agent", "coalitions", "knowledge", "metrics")
#: topic kinds whose frames are never replaced by a newer one: each carries its tick's changes
KEEP_EVERY_FRAME = frozenset({"coalitions"})

_DTYPE_NAMES = {
    np.dtype(np.int16): "int16",
    np.dtype(np.int32): "int32",
    np.dtype(np.uint8): "uint8",
    np.dtype(np.float32): "float32",
}
_I16 = np.iinfo(np.int16)


def canonical_sim_id(sim_id: str | int) -> str:
    """One spelling per simulation id: decimal digits lose their leading zeros
    (``"01"`` and ``1`` are ``"1"``); other names are kept as they are."""
    if isinstance(sim_id, int):
        return str(sim_id)
    if sim_id.isascii() and sim_id.isdigit():
        return str(int(sim_id))
    return sim_id


@dataclass(frozen=True, slots=True)
class Topic:
    """What a client subscribes to; ``key`` names it in the hub and on Redis.

    ``sim_id`` is kept canonical (:func:`canonical_sim_id`), so aliases of one
    simulation share one topic and one feed.
    """

    kind: str
    sim_id: str
    agent_id: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "sim_id", canonical_sim_id(self.sim_id))

    @property
    def key(self) -> str:
        tail = "" if self.agent_id is None else f"/{self.agent_id}"
        return f"{self.kind}/{self.sim_id}{tail}"

    @classmethod
    def from_key(cls, key: str) -> Topic:
        """The topic named ``key``; ValueError when it names none."""
        parts = key.split("/")
        if len(parts) not in (2, 3) or parts[0] not in TOPICS or not parts[1]:
            raise ValueError(f"not a topic key: {key!r}")
        agent = int(parts[2]) if len(parts) == 3 else None
        if (parts[0] == "agent") != (agent is not None):
            raise ValueError(f"not a topic key: {key!r}")
        return cls(parts[0], parts[1], agent)


def typed_array(values: np.ndarray, dtype: np.dtype | type) -> dict[str, Any]:
    """``values`` as a typed-array map holding little-endian bytes of ``dtype``."""
    arr = np.ascontiguousarray(values, dtype=np.dtype(dtype).newbyteorder("<"))
    return {"dtype": _DTYPE_NAMES[np.dtype(dtype)], "shape": list(arr.shape), "data": arr.tobytes()}


def _int16_or_32(values: np.ndarray) -> dict[str, Any]:
    """``values`` as int16 when every one fits, else int32."""
    fits = values.size == 0 or (values.min() >= _I16.min and values.max() <= _I16.max)
    return typed_array(values, np.int16 if fits else np.int32)


def _world(events: TickEvents, topic: Topic) -> dict[str, Any]:
    kinds = events.kinds
    return {
        "n": int(events.ids.size),
        "kind_names": list(events.kind_names),
        "ids": typed_array(events.ids, np.int32),
        # uint8 holds 256 kinds; more would be a different product
        "kinds": typed_array(kinds, np.uint8 if len(events.kind_names) <= 256 else np.int32),
        "positions": _int16_or_32(events.positions),
        "coalition": _int16_or_32(events.coalition),
        "energy": typed_array(events.energy, np.float32),
    }


def _agent(events: TickEvents, topic: Topic) -> dict[str, Any] | None:
    row = np.searchsorted(events.ids, topic.agent_id)
    if row >= events.ids.size or events.ids[row] != topic.agent_id:
        return None  # the agent left (or never was): nothing to say this tick
    return {
        "kind": events.kind_names[int(events.kinds[row])],
        "position": [int(v) for v in events.positions[row]],
        "action": int(events.actions[row]),
        "energy": float(events.energy[row]),
        "coalition": int(events.coalition[row]),
        "metrics": {
            name: float(values[row])
            for name, values in events.metrics.items()
            if np.ndim(values) == 1 and len(values) == events.ids.size
        },
    }


def _coalitions(events: TickEvents, topic: Topic) -> dict[str, Any]:
    member = events.coalition[events.coalition >= 0]
    ids, counts = np.unique(member, return_counts=True)
    return {
        "sizes": {str(int(i)): int(c) for i, c in zip(ids, counts, strict=True)},
        "changes": {k: np.asarray(v).tolist() for k, v in events.coalition_events.items()},
    }


def _metrics(events: TickEvents, topic: Topic) -> dict[str, Any]:
    means = {
        name: float(np.mean(values)) if np.size(values) else None
        for name, values in events.metrics.items()
    }
    return {
        "n": int(events.ids.size),
        "means": means,
        "timings": dict(events.timings),
        "activity": dict(events.activity),
    }


_BUILDERS: dict[str, Callable[[TickEvents, Topic], dict[str, Any] | None]] = {
    "world": _world,
    "agent": _agent,
    "coalitions": _coalitions,
    "metrics": _metrics,
}


def build(topic: Topic, events: TickEvents) -> dict[str, Any] | None:
    """The frame document of ``topic`` for one tick, or None when it has nothing to say.

    ``knowledge`` frames are built by the hub from the graph's counts (the tick batch
    does not carry the graph).
    """
    data = _BUILDERS[topic.kind](events, topic)
    if data is None:
        return None
    return envelope(topic, events.tick, data)


def envelope(topic: Topic, tick: int, data: dict[str, Any]) -> dict[str, Any]:
    """Wrap ``data`` in the common frame header."""
    doc: dict[str, Any] = {"type": "frame", "topic": topic.kind, "sim_id": topic.sim_id}
    if topic.agent_id is not None:
        doc["agent_id"] = topic.agent_id
    doc["tick"] = tick
    doc["data"] = data
    return doc


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _msgpack_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not MessagePack serialisable")


def encode(doc: dict[str, Any], fmt: Format) -> Payload:
    """``doc`` as a JSON ``str`` (bytes as base64) or MessagePack ``bytes``."""
    if fmt == "json":
        return orjson.dumps(doc, default=_json_default).decode()
    return msgpack.packb(doc, default=_msgpack_default, use_bin_type=True)


def decode_msgpack(data: bytes) -> Any:
    """The inverse of ``encode(doc, "msgpack")``: maps with ``str`` keys, ``bin`` as bytes."""
    return msgpack.unpackb(data, raw=False, strict_map_key=False)
