"""Random generators as JSON: the bit generator's state dict, never a pickle."""

from __future__ import annotations

from typing import Any

import numpy as np

from freeagentics.state._state import CheckpointError

__all__ = ["rng_from_state", "rng_state"]

#: bit generators a checkpoint may name (numpy's own; nothing is imported by name)
_BIT_GENERATORS = {
    "PCG64": np.random.PCG64,
    "PCG64DXSM": np.random.PCG64DXSM,
    "Philox": np.random.Philox,
    "SFC64": np.random.SFC64,
    "MT19937": np.random.MT19937,
}


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """The generator's position as JSON (``bit_generator.state``, arrays as lists)."""
    return _jsonable(rng.bit_generator.state)


def rng_from_state(state: Any) -> np.random.Generator:
    """A generator positioned where :func:`rng_state` left it."""
    if not isinstance(state, dict) or state.get("bit_generator") not in _BIT_GENERATORS:
        raise CheckpointError("checkpoint holds an unknown random generator state")
    bit_generator = _BIT_GENERATORS[state["bit_generator"]]()
    try:
        bit_generator.state = _arrays_back(state, bit_generator.state)
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise CheckpointError(f"checkpoint holds an invalid generator state: {exc}") from None
    return np.random.Generator(bit_generator)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.integer):
        return int(value)
    return value


def _arrays_back(value: Any, template: Any) -> Any:
    """``value`` with lists turned back into arrays where ``template`` holds arrays."""
    if isinstance(template, dict):
        if not isinstance(value, dict):
            raise TypeError("expected a mapping")
        return {k: _arrays_back(value[k], template[k]) for k in template}
    if isinstance(template, np.ndarray):
        return np.asarray(value, dtype=template.dtype)
    return value
