"""What each topic's frame says about one tick, from the tick's batch (numpy arrays).

The frame documents are described in :mod:`freeagentics.server.ws.frames`, which calls
these builders (:data:`BUILDERS`, by topic kind) and wraps and encodes what they return.
They live apart because they need numpy, which only a process holding simulations has
loaded: an API process relays its host's frames without building one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from freeagentics.server.ws.frames import Topic
from freeagentics.simulation._events import TickEvents

__all__ = ["BUILDERS", "typed_array"]

_DTYPE_NAMES = {
    np.dtype(np.int16): "int16",
    np.dtype(np.int32): "int32",
    np.dtype(np.uint8): "uint8",
    np.dtype(np.float32): "float32",
}
_I16 = np.iinfo(np.int16)


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


BUILDERS: dict[str, Callable[[TickEvents, Topic], dict[str, Any] | None]] = {
    "world": _world,
    "agent": _agent,
    "coalitions": _coalitions,
    "metrics": _metrics,
}
