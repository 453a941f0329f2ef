"""The wire: MessagePack with numpy arrays made explicit, limits before allocation, no pickle."""

from __future__ import annotations

import ast
import dataclasses
import socket
import struct
from pathlib import Path

import msgpack
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import freeagentics.hosts
from freeagentics.hosts import WireArray, WireError, decode, encode, frame, read_message
from freeagentics.hosts._codec import DTYPES, NDARRAY_EXT

PLAIN = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.integers(-5, 5), inner, max_size=4)
    ),
    max_leaves=20,
)
DTYPE = st.sampled_from(sorted(DTYPES)).map(np.dtype)


@given(PLAIN)
def test_plain_data_comes_back_equal(value):
    assert decode(encode(value)) == value


@given(hnp.arrays(DTYPE, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)))
def test_arrays_come_back_with_dtype_shape_and_values(array):
    back = decode(encode({"a": array}))["a"]
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable  # a copy of its own, not a view of the message


def _nan_named(value):
    """``value`` (nested lists of numbers) with NaNs replaced by a name, so that == holds."""
    if isinstance(value, list):
        return [_nan_named(v) for v in value]
    return "nan" if isinstance(value, float) and value != value else value


ARRAYS = hnp.arrays(DTYPE, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))


@given(ARRAYS)
def test_a_reader_asking_for_wire_arrays_gets_the_same_values_without_numpy(array):
    back = decode(encode({"a": array}), wire_arrays=True)["a"]
    assert isinstance(back, WireArray)
    assert back.shape == array.shape and back.name == array.dtype.name
    little = array.astype(array.dtype.newbyteorder("<"))
    assert back.data == little.tobytes()
    # what numpy would say, read with struct alone
    assert _nan_named(back.tolist()) == _nan_named(array.tolist())
    restored = np.asarray(back)
    assert restored.dtype == array.dtype and restored.shape == array.shape
    np.testing.assert_array_equal(restored, array)


@given(ARRAYS)
def test_a_wire_array_crosses_again_as_the_array_it_was(array):
    wire = WireArray.of(array)
    np.testing.assert_array_equal(decode(encode([wire]))[0], array)
    assert decode(encode(wire), wire_arrays=True) == wire


def test_wire_array_lists_nest_like_numpys():
    for shape in [(), (0,), (2, 0), (0, 3), (2, 3), (2, 1, 3)]:
        array = np.arange(int(np.prod(shape)), dtype=np.int16).reshape(shape)
        assert WireArray.of(array).tolist() == array.tolist(), shape
    assert WireArray.of(np.array([True, False])).tolist() == [True, False]
    assert WireArray.of(np.float16(1.5)).tolist() == 1.5


@pytest.mark.parametrize(
    "fields",
    [
        ("O", (1,), b"\x00" * 8),  # object dtype
        ("i4", (3,), b"\x00" * 8),  # bytes do not fill the shape
        ("i4", (-1,), b""),
        ("i4", (1,) * 9, b"\x00" * 4),  # too many dimensions
    ],
)
def test_a_wire_array_that_does_not_hold_together_is_refused(fields):
    with pytest.raises(ValueError):
        WireArray(*fields)


def test_big_endian_and_strided_arrays_cross_as_their_values():
    big = np.arange(6, dtype=">i4").reshape(2, 3)
    back = decode(encode(big))
    np.testing.assert_array_equal(back, big)
    assert back.dtype == np.dtype("int32")
    strided = np.arange(20, dtype=np.float32)[::3]
    np.testing.assert_array_equal(decode(encode(strided)), strided)


def test_scalars_tuples_sets_and_dataclasses_become_plain_values():
    @dataclasses.dataclass
    class Point:
        x: int
        y: np.float32

    value = {
        "n": np.int64(3),
        "f": np.float32(0.5),
        "t": (1, 2),
        "s": {3, 1},
        "p": Point(1, np.float32(2)),
    }
    assert decode(encode(value)) == {
        "n": 3,
        "f": 0.5,
        "t": [1, 2],
        "s": [1, 3],
        "p": {"x": 1, "y": 2.0},
    }


@pytest.mark.parametrize(
    "value",
    [object(), np.array([object()]), np.array(["a"]), np.zeros(2, "datetime64[s]"), lambda: 1],
)
def test_anything_else_is_refused_when_encoding(value):
    with pytest.raises(TypeError):
        encode({"x": value})


def _ext(*fields) -> bytes:
    return msgpack.packb(msgpack.ExtType(NDARRAY_EXT, msgpack.packb(list(fields))))


@pytest.mark.parametrize(
    "data",
    [
        b"\xc1",  # never used in MessagePack
        b"\x92\x01",  # an array of two with one element
        msgpack.packb(1) + b"trailing",
        msgpack.packb(msgpack.ExtType(42, b"x")),  # unknown extension
        _ext("O", [1], b"\x00" * 8),  # object dtype
        _ext("i4", [3], b"\x00" * 8),  # bytes do not fill the shape
        _ext("i4", [-1], b""),
        _ext("i4", [1] * 9, b"\x00" * 4),  # too many dimensions
        _ext("i4", "3", b"\x00" * 12),
        msgpack.packb(msgpack.ExtType(NDARRAY_EXT, b"\xc1")),
    ],
)
def test_malformed_bytes_raise_wire_error(data):
    with pytest.raises(WireError):
        decode(data)


def test_a_length_over_the_limit_is_refused_before_the_body_is_read():
    a, b = socket.socketpair()
    with a, b:
        a.sendall(struct.pack(">I", 2**31))  # announces 2 GiB, sends nothing more
        with pytest.raises(WireError, match="over the limit"):
            read_message(b, max_bytes=1024)


def test_messages_are_maps_and_a_clean_end_is_none():
    a, b = socket.socketpair()
    with b:
        with a:
            a.sendall(frame({"op": "x", "n": 1}) + frame([1, 2]))
        assert read_message(b, 1024) == {"op": "x", "n": 1}
        with pytest.raises(WireError, match="must be a map"):
            read_message(b, 1024)
        assert read_message(b, 1024) is None


def test_a_stream_cut_inside_a_message_is_an_error():
    a, b = socket.socketpair()
    with b:
        with a:
            a.sendall(frame({"op": "x"})[:-1])
        with pytest.raises(WireError, match="ended"):
            read_message(b, 1024)


def test_nothing_in_the_transport_can_unpickle():
    forbidden = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle"}
    package = Path(freeagentics.hosts.__file__).parent
    program = package.parent / "server" / "hostproc.py"
    for path in [*package.glob("*.py"), program]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                names = {(node.module or "").split(".")[0]}
            else:
                continue
            assert not names & forbidden, f"{path.name} imports {names & forbidden}"
    # and numpy's own pickle path is never taken: object arrays do not cross at all
    with pytest.raises(TypeError):
        encode(np.array([{"a": 1}], dtype=object))
