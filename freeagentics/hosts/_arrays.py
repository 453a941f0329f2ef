"""Arrays as they cross the wire, for a process that only passes them on: no numpy.

An API process receives the world's arrays from its host and writes them out again
as bytes (base64 in JSON); it never computes on them, so it need not import numpy
(some 20 MB a process). :class:`WireArray` is what its transport decodes an array to:
the dtype's wire name, the shape and the little-endian bytes, checked against each
other when made. ``numpy.asarray(wire)`` gives the numpy array where one is wanted.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

__all__ = ["DTYPES", "WireArray"]

#: struct format of each dtype an array may have on the wire (no object, void or
#: datetime dtypes); the wire name is numpy's kind and item size ("i4", "f8", "b1")
_FORMATS = {
    "i1": "b",
    "i2": "h",
    "i4": "i",
    "i8": "q",
    "u1": "B",
    "u2": "H",
    "u4": "I",
    "u8": "Q",
    "f2": "e",
    "f4": "f",
    "f8": "d",
    "b1": "?",
}
DTYPES = frozenset(_FORMATS)
_KINDS = {"i": "int", "u": "uint", "f": "float"}
#: dimensions an array may have on the wire
MAX_DIMS = 8


@dataclass(frozen=True, slots=True)
class WireArray:
    """An array as it crossed the wire.

    Attributes:
        dtype: its wire name (:data:`DTYPES`: ``"u1"``, ``"i4"``, ``"f4"``...).
        shape: its dimensions, at most :data:`MAX_DIMS`.
        data: ``prod(shape)`` items, little-endian, C order.

    Raises ValueError when the three do not agree.
    """

    dtype: str
    shape: tuple[int, ...]
    data: bytes

    def __post_init__(self) -> None:
        if self.dtype not in _FORMATS:
            raise ValueError(f"dtype {self.dtype!r} is not one of {sorted(_FORMATS)}")
        shape = self.shape
        if len(shape) > MAX_DIMS or not all(type(n) is int and n >= 0 for n in shape):
            raise ValueError(f"shape {shape!r}")
        if math.prod(shape) * self.itemsize != len(self.data):
            raise ValueError(f"{len(self.data)} bytes do not hold {list(shape)} of {self.dtype}")

    @classmethod
    def of(cls, array: Any) -> WireArray:
        """The wire form of numpy ``array`` (any byte order or strides); TypeError when
        its dtype cannot cross."""
        import numpy as np  # only a process holding numpy arrays calls this

        arr = np.asarray(array, order="C")  # ascontiguousarray would make 0-d arrays 1-d
        name = f"{arr.dtype.kind}{arr.dtype.itemsize}"
        if name not in _FORMATS:
            raise TypeError(f"arrays of dtype {arr.dtype} cannot cross to a host")
        data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        return cls(name, tuple(arr.shape), data)

    @property
    def itemsize(self) -> int:
        return int(self.dtype[1:])

    @property
    def name(self) -> str:
        """numpy's name of the dtype: ``"uint8"``, ``"int32"``, ``"float32"``, ``"bool"``."""
        if self.dtype == "b1":
            return "bool"
        return f"{_KINDS[self.dtype[0]]}{8 * self.itemsize}"

    def tolist(self) -> Any:
        """Nested lists of Python numbers, as numpy's ``tolist`` (a number when 0-d)."""
        count = math.prod(self.shape)
        flat = list(struct.unpack(f"<{count}{_FORMATS[self.dtype]}", self.data))
        if not self.shape:
            return flat[0]
        return _nest(flat, self.shape)

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        import numpy as np

        wire = np.dtype(self.dtype).newbyteorder("<")
        out = np.frombuffer(self.data, dtype=wire).astype(wire.newbyteorder("="), copy=True)
        out = out.reshape(self.shape)
        return out if dtype is None else out.astype(dtype, copy=False)


def _nest(flat: list, shape: tuple[int, ...]) -> list:
    if len(shape) == 1:
        return flat
    step = len(flat) // shape[0] if shape[0] else 0
    return [_nest(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]
