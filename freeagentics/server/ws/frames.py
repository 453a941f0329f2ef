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
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import msgpack
import orjson

if TYPE_CHECKING:
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
]

Format = Literal["json", "msgpack"]
#: An encoded frame: ``str`` for JSON (text frames), ``bytes`` for MessagePack (binary).
Payload = str | bytes
FORMATS: tuple[Format, ...] = ("json", "msgpack")
TOPICS = ("world", "agent", "coalitions", "knowledge", "metrics")
#: topic kinds whose frames are never replaced by a newer one: each carries its tick's changes
KEEP_EVERY_FRAME = frozenset({"coalitions"})


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


def build(topic: Topic, events: TickEvents) -> dict[str, Any] | None:
    """The frame document of ``topic`` for one tick, or None when it has nothing to say.

    ``knowledge`` frames are built by the hub from the graph's counts (the tick batch
    does not carry the graph).
    """
    # imported here: only a process holding simulations builds frames (with numpy); an
    # API process relays its host's frames and never loads numpy
    from freeagentics.server.ws.frame_data import BUILDERS

    data = BUILDERS[topic.kind](events, topic)
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


_NOT_NUMPY = object()


def _numpy_plain(value: Any) -> Any:
    """A numpy scalar or array as Python numbers and lists, :data:`_NOT_NUMPY` for
    anything else (a value can only be one of numpy's once numpy is loaded)."""
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    return _NOT_NUMPY


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(value).decode("ascii")
    plain = _numpy_plain(value)
    if plain is _NOT_NUMPY:
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")
    return plain


def _msgpack_default(value: Any) -> Any:
    plain = _numpy_plain(value)
    if plain is _NOT_NUMPY:
        raise TypeError(f"{type(value).__name__} is not MessagePack serialisable")
    return plain


def encode(doc: dict[str, Any], fmt: Format) -> Payload:
    """``doc`` as a JSON ``str`` (bytes as base64) or MessagePack ``bytes``."""
    if fmt == "json":
        return orjson.dumps(doc, default=_json_default).decode()
    return msgpack.packb(doc, default=_msgpack_default, use_bin_type=True)


def decode_msgpack(data: bytes) -> Any:
    """The inverse of ``encode(doc, "msgpack")``: maps with ``str`` keys, ``bin`` as bytes."""
    return msgpack.unpackb(data, raw=False, strict_map_key=False)
