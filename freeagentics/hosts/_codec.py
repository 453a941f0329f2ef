"""The bytes between an API process and a host: length-prefixed MessagePack, never pickle.

A message is a 4-byte big-endian length ``N`` followed by ``N`` bytes of MessagePack
holding one map. Values are MessagePack's own (nil, bool, int, float, str, bin, array,
map with str or int keys) plus two conversions made explicitly here:

* a numpy array (or a :class:`~freeagentics.hosts._arrays.WireArray`) travels as
  extension type :data:`NDARRAY_EXT`: a MessagePack array ``[dtype, shape, data]``
  (``dtype`` one of :data:`DTYPES`, little-endian ``data``); it is read back only when
  its byte count matches its shape and dtype, as a numpy array, or as a ``WireArray``
  when the reader asks for ``wire_arrays`` (an API process, which passes arrays on
  and need not import numpy);
* numpy scalars become Python numbers, tuples become arrays (lists on the far side),
  and dataclass instances become maps of their fields.

numpy is imported only to read an array back as one: a value can only be a numpy
array or scalar once numpy is loaded, so encoding looks for it in ``sys.modules``.

Anything else is refused when encoding (:class:`TypeError`), and bytes that are not a
valid message raise :class:`WireError` when decoding; a length over the reader's limit
raises :class:`WireError` before a byte of the body is read or allocated.
"""

from __future__ import annotations

import dataclasses
import socket
import struct
import sys
from typing import Any

import msgpack

from freeagentics.hosts._arrays import DTYPES, WireArray

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


class WireError(Exception):
    """Bytes that are not a valid message, or a message over the reader's limit."""


def _default(value: Any) -> Any:
    np = sys.modules.get("numpy")  # without numpy loaded, no value is one of its arrays
    if np is not None and isinstance(value, np.ndarray):
        value = WireArray.of(value)
    if isinstance(value, WireArray):
        payload = [value.dtype, list(value.shape), value.data]
        return msgpack.ExtType(NDARRAY_EXT, msgpack.packb(payload))
    if np is not None and isinstance(value, np.generic):
        return value.item()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} cannot cross to a host")


def _wire_array(code: int, data: bytes) -> WireArray:
    if code != NDARRAY_EXT:
        raise WireError(f"unknown extension type {code}")
    try:
        name, shape, raw = msgpack.unpackb(data, raw=False)
    except Exception as exc:
        raise WireError(f"malformed array: {exc}") from None
    if not isinstance(name, str) or not isinstance(raw, bytes) or not isinstance(shape, list):
        raise WireError("malformed array: dtype, shape or data of the wrong kind")
    try:
        return WireArray(name, tuple(shape), raw)
    except ValueError as exc:
        raise WireError(f"malformed array: {exc}") from None


def _numpy_array(code: int, data: bytes) -> Any:
    return _wire_array(code, data).__array__()


def encode(message: Any) -> bytes:
    """MessagePack of ``message`` (see the module docstring for what may be in it)."""
    return msgpack.packb(message, default=_default, use_bin_type=True, datetime=False)


def decode(data: bytes, *, wire_arrays: bool = False) -> Any:
    """The value MessagePack ``data`` holds, its arrays as numpy arrays or, with
    ``wire_arrays``, as :class:`~freeagentics.hosts._arrays.WireArray`; :class:`WireError`
    when it holds none."""
    hook = _wire_array if wire_arrays else _numpy_array
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=hook)
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


def read_message(sock: socket.socket, max_bytes: int, *, wire_arrays: bool = False) -> Any:
    """The next message on ``sock`` (arrays as :func:`decode` reads them), or None at a
    clean end of the stream.

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
    message = decode(body, wire_arrays=wire_arrays)
    if not isinstance(message, dict):
        raise WireError(f"a message must be a map, not {type(message).__name__}")
    return message
