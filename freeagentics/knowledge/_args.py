"""Argument checks every store implementation applies the same way.

A store over another backend (SQL) should call these too, so that both reject the
same inputs with the same :class:`~freeagentics.errors.ConfigurationError`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from freeagentics._checks import whole_number_at_least, whole_number_in
from freeagentics.errors import ConfigurationError
from freeagentics.knowledge._types import DIRECTIONS, MAX_HOPS, MAX_LIMIT, PropertyValue

__all__ = [
    "check_direction",
    "check_hops",
    "check_id",
    "check_ids",
    "check_keys",
    "check_name",
    "check_page",
    "check_properties",
    "check_property_columns",
    "check_tick",
    "check_value",
    "check_weights",
]


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def check_name(value: Any, what: str) -> str:
    """A node or edge type: a non-empty ``str``."""
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{what} must be a non-empty string, got {value!r}")
    return value


def check_id(value: Any, what: str = "node id") -> int:
    """An integer id (Python or numpy integer, not bool), returned as ``int``."""
    if not _is_int(value):
        raise ConfigurationError(f"{what} must be an integer, got {value!r}")
    return int(value)


def check_ids(values: Any, what: str) -> list[int]:
    """(E,) integer ids from an integer array or a sequence of ints."""
    if isinstance(values, np.ndarray):
        if values.ndim != 1 or values.dtype.kind not in "iu":
            raise ConfigurationError(
                f"{what} must be a 1-D integer array, got {values.dtype} of shape {values.shape}"
            )
        return values.tolist()
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise ConfigurationError(f"{what} must be a sequence of integers, got {type(values)}")
    for v in values:
        if not _is_int(v):
            raise ConfigurationError(f"{what} must hold integers, got {v!r}")
    return [int(v) for v in values]


def check_tick(value: Any) -> int:
    return whole_number_at_least("tick", value, 0)


def check_direction(value: Any) -> str:
    if value not in DIRECTIONS:
        raise ConfigurationError(f"direction must be one of {DIRECTIONS}, got {value!r}")
    return value


def check_hops(value: Any, what: str) -> int:
    """A hop count in ``[0, MAX_HOPS]``."""
    return whole_number_in(what, value, 0, MAX_HOPS)


def check_page(limit: Any, offset: Any) -> tuple[int, int]:
    limit = whole_number_in("limit", limit, 0, MAX_LIMIT)
    return limit, whole_number_at_least("offset", offset, 0)


def check_value(value: Any, what: str) -> PropertyValue:
    """One property value; numpy scalars become the matching Python scalar."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigurationError(f"{what} must be finite, got {value!r}")
        return value
    raise ConfigurationError(
        f"{what} must be a bool, int, finite float or str, got {type(value).__name__} {value!r}"
    )


def check_properties(properties: Any) -> dict[str, PropertyValue]:
    """A property mapping (``None`` means empty) as a fresh ``dict`` of Python scalars."""
    if properties is None:
        return {}
    if not isinstance(properties, Mapping):
        raise ConfigurationError(f"properties must be a mapping, got {type(properties).__name__}")
    out = {}
    for name, value in properties.items():
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"property names must be non-empty strings, got {name!r}")
        out[name] = check_value(value, f"property {name!r}")
    return out


def _column(name: str, values: Any, n: int) -> list[PropertyValue]:
    what = f"property column {name!r}"
    if isinstance(values, np.ndarray):
        if values.shape != (n,):
            raise ConfigurationError(f"{what} must have shape ({n},), got {values.shape}")
        kind = values.dtype.kind
        if kind == "f" and not np.isfinite(values).all():
            raise ConfigurationError(f"{what} must be finite")
        if kind in "biufU":
            # tolist() yields Python scalars, which is what the store keeps
            return values.tolist()
        if kind != "O":
            raise ConfigurationError(f"{what} has unsupported dtype {values.dtype}")
        return [check_value(v, what) for v in values.tolist()]
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        # a scalar is broadcast to every row
        return [check_value(values, what)] * n
    if len(values) != n:
        raise ConfigurationError(f"{what} must have length {n}, got {len(values)}")
    return [check_value(v, what) for v in values]


def check_property_columns(columns: Any, n: int) -> tuple[tuple[str, ...], list[tuple]]:
    """Columnar properties of a batch of ``n`` rows.

    Args:
        columns: mapping of property name to a (n,) array, a length-``n`` sequence, or
            one scalar used for every row; ``None`` means no properties.

    Returns:
        The property names and one tuple of values per row (``n`` tuples).
    """
    if columns is None:
        return (), [()] * n
    if not isinstance(columns, Mapping):
        raise ConfigurationError(f"properties must be a mapping, got {type(columns).__name__}")
    names = []
    cols = []
    for name, values in columns.items():
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"property names must be non-empty strings, got {name!r}")
        names.append(name)
        cols.append(_column(name, values, n))
    if not cols:
        return (), [()] * n
    return tuple(names), list(zip(*cols, strict=True))


def check_keys(keys: Any) -> list[str]:
    """(N,) node keys: strings, or integers (converted with ``str``)."""
    if isinstance(keys, np.ndarray):
        if keys.ndim != 1:
            raise ConfigurationError(f"keys must be 1-D, got shape {keys.shape}")
        if keys.dtype.kind == "U":
            return keys.tolist()
        if keys.dtype.kind in "iu":
            return [str(k) for k in keys.tolist()]
        keys = keys.tolist()
    if isinstance(keys, str | bytes) or not isinstance(keys, Sequence):
        raise ConfigurationError(f"keys must be a sequence, got {type(keys).__name__}")
    out = []
    for k in keys:
        if isinstance(k, str):
            out.append(k if type(k) is str else str(k))  # np.str_ -> str
        elif _is_int(k):
            out.append(str(int(k)))
        else:
            raise ConfigurationError(f"node keys must be strings or integers, got {k!r}")
    return out


def check_weights(weights: Any, n: int) -> list[float]:
    """(n,) finite edge weights, or one number for all."""
    if isinstance(weights, np.ndarray):
        if weights.shape != (n,) or weights.dtype.kind not in "iuf":
            raise ConfigurationError(f"weights must be a numeric array of shape ({n},)")
        if not np.isfinite(weights).all():
            raise ConfigurationError("weights must be finite")
        return weights.astype(float).tolist()
    if isinstance(weights, Sequence) and not isinstance(weights, str | bytes):
        if len(weights) != n:
            raise ConfigurationError(f"weights must have length {n}, got {len(weights)}")
        return [_weight(w) for w in weights]
    return [_weight(weights)] * n


def _weight(value: Any) -> float:
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
        raise ConfigurationError(f"weight must be a finite number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ConfigurationError(f"weight must be a finite number, got {value!r}")
    return value
