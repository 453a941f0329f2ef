"""Floats for JSON at the precision they were computed in.

A float32 widened to float64 prints its binary error (energy ``9.8`` stored as float32
reads ``9.799999237060547``). :func:`json_floats` turns float32 (and narrower) values into
the Python float of their shortest decimal that reads back as the same float32, so
``np.float32(json_floats(a)[i]) == a[i]`` exactly and the JSON says ``9.8``. Float64
values are returned unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

__all__ = ["json_float", "json_floats"]


def json_floats(values: Any) -> list[float]:
    """``values`` flattened to Python floats, each the shortest decimal of its own precision."""
    array = np.asarray(values)
    if array.dtype.kind != "f" or array.dtype.itemsize > 4:
        return array.astype(np.float64).ravel().tolist()
    flat = np.ascontiguousarray(array, dtype=np.float32).ravel()
    # orjson writes float32 as its shortest round-trip decimal (fast, in C); reading that
    # text back gives the float64 nearest that decimal. JSON has no NaN or infinities:
    # orjson writes them as null, so they are put back from the array.
    out = orjson.loads(orjson.dumps(flat, option=orjson.OPT_SERIALIZE_NUMPY))
    if not np.isfinite(flat).all():
        for i in np.flatnonzero(~np.isfinite(flat)).tolist():
            out[i] = float(flat[i])
    return out


def json_float(value: Any) -> float:
    """One value as :func:`json_floats` gives it."""
    return json_floats(np.asarray(value).reshape(1))[0]
