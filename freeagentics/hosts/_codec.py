"""The bytes between an API process and a host: length-prefixed MessagePack, never pickle.

A message is a 4-byte big-endian length ``N`` followed by ``N`` bytes of MessagePack
holding one map. Values are MessagePack's own (nil, bool, int, float, str, bin, array,
map with str or int keys) plus two conversions made explicitly here:

* a numpy array travels as extension type :data:`NDARRAY_EXT`: a MessagePack array
  ``[dtype, shape, data]`` (``dtype`` one of :data:`DTYPES`, little-endian ``data``);
  it is read back only when its byte count matches its shape and dtype;
* numpy scalars become Python numbers, tuples become arrays (lists on the far side),
  and dataclass instances become maps of their fields.

Anything else is refused when encoding (:class:`TypeError`), and bytes that are not a
valid message raise :class:`WireError` when decoding; a length over the reader's limit
raises :class:`WireError` before a byte of the body is read or allocated.
"""

from __future__ import annotations

import dataclasses
import math
import socket
import struct
from typing import Any

import msgpack
import numpy as np

__all__ = [
    "DTYPES",
    "HEADER",
    "NDARRAY_EXT",
    "WireError",
    "decode",
    "encode",
    "frame",
    "read_message",
]

HEADER = struct.Struct(">I")
#: the extension type code of a numpy array
NDARRAY_EXT = 1
#: dtypes an array may have on the wire (no object, void or datetime dtypes)
DTYPES = frozenset(
    f"{kind}{size}"
    for kind, sizes in (("i", (1, 2, 4, 8)), ("u", (1, 2, 4, 8)), ("f", (2, 4, 8)))
    for size in sizes
) | {"b1"}
#: dimensions an array may have on the wire
MAX_DIMS = 8


class WireError(Exception):
    """Bytes that are not a valid message, or a message over the reader's limit."""


def _default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        arr = np.asarray(value, order="C")  # ascontiguousarray would make 0-d arrays 1-d
        dtype = arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype
        name = f"{dtype.kind}{dtype.itemsize}"
        if name not in DTYPES:
            raise TypeError(f"arrays of dtype {arr.dtype} cannot cross to a host")
        data = arr.astype(dtype.newbyteorder("<"), copy=False).tobytes()
        return msgpack.ExtType(NDARRAY_EXT, msgpack.packb([name, list(arr.shape), data]))
    if isinstance(value, np.generic):
        return value.item()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} cannot cross to a host")


def _ext_hook(code: int, data: bytes) -> Any:
    if code != NDARRAY_EXT:
        raise WireError(f"unknown extension type {code}")
    try:
        name, shape, raw = msgpack.unpackb(data, raw=False)
    except Exception as exc:
        raise WireError(f"malformed array: {exc}") from None
    if name not in DTYPES or not isinstance(raw, bytes) or not isinstance(shape, list):
        raise WireError("malformed array: dtype, shape or data of the wrong kind")
    if len(shape) > MAX_DIMS or not all(type(n) is int and n >= 0 for n in shape):
        raise WireError(f"malformed array: shape {shape!r}")
    dtype = np.dtype(name).newbyteorder("<")
    if math.prod(shape) * dtype.itemsize != len(raw):
        raise WireError(f"malformed array: {len(raw)} bytes do not hold {shape} of {name}")
    return np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def encode(message: Any) -> bytes:
    """MessagePack of ``message`` (see the module docstring for what may be in it)."""
    return msgpack.packb(message, default=_default, use_bin_type=True, datetime=False)


def decode(data: bytes) -> Any:
    """The value MessagePack ``data`` holds; :class:`WireError` when it holds none."""
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=_ext_hook)
    except WireError:
        raise
    except Exception as exc:  # msgpack's own errors, and ValueError for trailing bytes
        raise WireError(f"not a MessagePack message: {type(exc).__name__}: {exc}") from None


def frame(message: Any) -> bytes:
    """``message`` encoded and length-prefixed, ready to write to a stream."""
    body = encode(message)
    if len(body) >= 1 << 32:
        raise WireError(f"a message of {len(body)} bytes is over the wire's 4 GiB")
    return HEADER.pack(len(body)) + body


def _read_exactly(sock: socket.socket, n: int) -> bytearray | None:
    """``n`` bytes from ``sock``; None when it ends before the first, WireError mid-way."""
    buffer = bytearray(n)
    view, got = memoryview(buffer), 0
    while got < n:
        count = sock.recv_into(view[got:], min(n - got, 1 << 20))
        if not count:
            if got:
                raise WireError(f"the stream ended {n - got} bytes into a message")
            return None
        got += count
    return buffer


def read_message(sock: socket.socket, max_bytes: int) -> Any:
    """The next message on ``sock``, or None at a clean end of the stream.

    A length over ``max_bytes`` raises :class:`WireError` before the body is read.
    """
    header = _read_exactly(sock, HEADER.size)
    if header is None:
        return None
    (length,) = HEADER.unpack(header)
    if length > max_bytes:
        raise WireError(f"a message of {length} bytes is over the limit of {max_bytes}")
    body = _read_exactly(sock, length)
    if body is None:
        raise WireError("the stream ended after a message's length")
    message = decode(body)
    if not isinstance(message, dict):
        raise WireError(f"a message must be a map, not {type(message).__name__}")
    return message
