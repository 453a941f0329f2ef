"""A component's exact state: named arrays plus JSON values, nestable by name."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from freeagentics.errors import CheckpointError

__all__ = ["CheckpointError", "State"]

SEPARATOR = "/"


@dataclass
class State:
    """What a component needs to continue exactly: ``arrays`` and JSON ``values``.

    Components export one with ``export_state()`` and take one back with ``import_state()``;
    a parent nests its children under their names (:meth:`put`, :meth:`part`), so
    adding an array to a component needs no change anywhere else.

    Attributes:
        arrays: name -> numeric, boolean or string array (no objects).
        values: name -> JSON value (``None``, bool, int, float, str, lists, dicts).
    """

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    #: where this part sits in the checkpoint (``"population/group.0/"``), for messages
    where: str = field(default="", compare=False, repr=False)

    # ------------------------------------------------------------------ nesting
    def put(self, name: str, child: State) -> State:
        """Store ``child`` under ``name``; returns self."""
        prefix = name + SEPARATOR
        for key, array in child.arrays.items():
            self.arrays[prefix + key] = array
        if child.values:
            self.values[name] = child.values
        elif not child.arrays:
            self.values[name] = {}
        return self

    def part(self, name: str) -> State:
        """The child stored under ``name`` (missing parts raise :class:`CheckpointError`)."""
        prefix = name + SEPARATOR
        arrays = {k[len(prefix) :]: v for k, v in self.arrays.items() if k.startswith(prefix)}
        values = self.values.get(name, {})
        if not arrays and name not in self.values:
            raise CheckpointError(f"checkpoint holds no {self.where + name!r}")
        if not isinstance(values, dict):
            raise CheckpointError(f"checkpoint entry {self.where + name!r} is not a component")
        return State(arrays, values, self.where + prefix)

    # ------------------------------------------------------------------ reading
    def array(self, name: str, dtype: Any = None, ndim: int | None = None) -> np.ndarray:
        """The array ``name`` (a copy when ``dtype`` converts), checked for kind and rank."""
        try:
            array = self.arrays[name]
        except KeyError:
            where = self.where + name
            raise CheckpointError(f"checkpoint is missing the array {where!r}") from None
        if dtype is not None:
            want = np.dtype(dtype)
            if array.dtype != want:
                raise CheckpointError(
                    f"array {self.where + name!r} is {array.dtype}, expected {want}"
                )
        if ndim is not None and array.ndim != ndim:
            raise CheckpointError(
                f"array {self.where + name!r} has {array.ndim} dimensions, expected {ndim}"
            )
        return np.array(array, copy=True)

    def arrays_named(self, name: str, count: int) -> list[np.ndarray]:
        """Arrays ``name.0`` … ``name.{count-1}`` (a list exported by :meth:`put_list`)."""
        return [self.array(f"{name}.{i}") for i in range(count)]

    def put_list(self, name: str, arrays: Iterable[np.ndarray]) -> int:
        """Store a list of arrays as ``name.0``, ``name.1``, …; returns their count."""
        count = 0
        for i, array in enumerate(arrays):
            self.arrays[f"{name}.{i}"] = np.asarray(array)
            count += 1
        return count

    def value(self, name: str, kind: type | tuple[type, ...] | None = None) -> Any:
        """The JSON value ``name``, checked against ``kind`` when given."""
        try:
            value = self.values[name]
        except KeyError:
            where = self.where + name
            raise CheckpointError(f"checkpoint is missing the value {where!r}") from None
        if kind is not None and (
            not isinstance(value, kind) or (isinstance(value, bool) and bool not in _tuple(kind))
        ):
            raise CheckpointError(
                f"value {self.where + name!r} has the wrong type ({type(value).__name__})"
            )
        return value


def _tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)
