"""The checkpoint file: a JSON manifest and an ``.npz`` of arrays, behind an HMAC.

Layout (bytes)::

    FREEAGENTICS-CHECKPOINT-2\\n
    <scheme> <hex digest>\\n          scheme: hmac-sha256 (keyed) or sha256 (integrity only)
    <manifest length, 8 bytes big-endian><manifest JSON><npz bytes>

The digest covers everything after its line. Reading checks it before parsing
anything; then the manifest (format, version, what the checkpoint holds, its JSON
values and an index of every array with dtype and shape), then the ``.npz`` with
``allow_pickle=False``, whose members must be exactly the indexed arrays, with the
indexed dtype and shape, of plain numeric, boolean or string dtypes. Nothing in a
checkpoint is ever unpickled or imported.

Keys: with ``key`` the digest is an HMAC-SHA256 and only that key reads the file;
without one the digest is a plain SHA-256, which detects corruption but proves
nothing about who wrote the file (still, reading it runs no code). A keyed reader
refuses an unkeyed file and the other way round.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import math
import zipfile
from typing import Any

import numpy as np

from freeagentics.state._state import CheckpointError, State

__all__ = ["FORMAT", "LEGACY_FORMAT", "MAGIC", "VERSION", "decode", "encode"]

MAGIC = b"FREEAGENTICS-CHECKPOINT-2\n"
#: the header of the pickle checkpoints of earlier versions (refused: they could run code)
LEGACY_FORMAT = b"FREEAGENTICS-CHECKPOINT-1\n"
FORMAT = "freeagentics-checkpoint"
VERSION = 2
#: dtype kinds an array may have: bool, signed, unsigned, float, unicode string
ARRAY_KINDS = "biufU"
#: largest manifest accepted (a sanity bound; the digest was checked before this)
MAX_MANIFEST_BYTES = 256 * 1024 * 1024
_LENGTH = 8
#: most bytes an .npy header takes before the data
_NPY_HEADER_MAX = 65_536


def _digest(body: bytes, key: bytes | None) -> tuple[bytes, str]:
    if key is None:
        return b"sha256", hashlib.sha256(body).hexdigest()
    return b"hmac-sha256", hmac.new(key, body, hashlib.sha256).hexdigest()


def encode(state: State, kind: str, key: bytes | None = None) -> bytes:
    """The checkpoint bytes of ``state`` (a ``kind`` such as ``"simulation"``)."""
    index = {}
    for name, array in state.arrays.items():
        if array.dtype.kind not in ARRAY_KINDS:
            raise CheckpointError(f"array {name!r} has dtype {array.dtype}, not storable")
        index[name] = {"dtype": array.dtype.str, "shape": list(array.shape)}
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "kind": kind,
        "values": state.values,
        "arrays": index,
    }
    manifest_bytes = json.dumps(manifest, separators=(",", ":"), allow_nan=False).encode()
    body = len(manifest_bytes).to_bytes(_LENGTH, "big") + manifest_bytes + _npz(state, index)
    scheme, digest = _digest(body, key)
    return MAGIC + scheme + b" " + digest.encode() + b"\n" + body


def _npz(state: State, index: dict[str, Any]) -> bytes:
    """An ``.npz`` of the indexed arrays as ``a0``, ``a1``, ...; deflate level 1, which
    is three times faster than numpy's default and nearly as small on these arrays."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for i, name in enumerate(index):
            with archive.open(f"a{i}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, state.arrays[name], allow_pickle=False)
    return buffer.getvalue()


def decode(data: bytes, kind: str, key: bytes | None = None) -> State:
    """Check and read checkpoint bytes; :class:`CheckpointError` says what is wrong."""
    body = _authenticated_body(data, key)
    if len(body) < _LENGTH:
        raise CheckpointError("checkpoint is truncated")
    length = int.from_bytes(body[:_LENGTH], "big")
    if length > min(MAX_MANIFEST_BYTES, len(body) - _LENGTH):
        raise CheckpointError("checkpoint manifest length is out of range")
    manifest = _manifest(body[_LENGTH : _LENGTH + length], kind)
    arrays = _arrays(body[_LENGTH + length :], manifest["arrays"])
    return State(arrays, manifest["values"])


def _authenticated_body(data: bytes, key: bytes | None) -> bytes:
    if data.startswith(LEGACY_FORMAT):
        raise CheckpointError(
            "this is a checkpoint of the old pickle format (FREEAGENTICS-CHECKPOINT-1), which "
            "is no longer read because loading it could run code; write a new checkpoint"
        )
    if not data.startswith(MAGIC):
        raise CheckpointError(
            "not a FreeAgentics checkpoint (it does not begin with FREEAGENTICS-CHECKPOINT-2)"
        )
    end = data.find(b"\n", len(MAGIC), len(MAGIC) + 128)
    if end < 0:
        raise CheckpointError("checkpoint digest line is malformed")
    scheme, _, digest = data[len(MAGIC) : end].partition(b" ")
    body = data[end + 1 :]
    if scheme not in (b"sha256", b"hmac-sha256"):
        raise CheckpointError("checkpoint digest scheme is unknown")
    if key is not None and scheme != b"hmac-sha256":
        raise CheckpointError("checkpoint is not authenticated (no HMAC); refused")
    if key is None and scheme != b"sha256":
        raise CheckpointError("checkpoint is authenticated with a key; give the key to read it")
    _, expected = _digest(body, key)
    if not hmac.compare_digest(digest, expected.encode()):
        what = "HMAC" if key is not None else "SHA-256"
        raise CheckpointError(f"checkpoint {what} does not match: altered, or another key")
    return body


def _manifest(raw: bytes, kind: str) -> dict[str, Any]:
    try:
        manifest = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise CheckpointError("checkpoint manifest is not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CheckpointError("checkpoint manifest does not name the FreeAgentics format")
    if manifest.get("version") != VERSION:
        raise CheckpointError(
            f"checkpoint format version {manifest.get('version')!r} is not {VERSION}"
        )
    if manifest.get("kind") != kind:
        raise CheckpointError(f"checkpoint holds a {manifest.get('kind')!r}, not a {kind!r}")
    if not isinstance(manifest.get("values"), dict) or not isinstance(manifest.get("arrays"), dict):
        raise CheckpointError("checkpoint manifest lacks its values or array index")
    return manifest


def _check_size(name: str, spec: Any, stored: int) -> None:
    """Refuse a member whose unpacked size is not that of the array the manifest declares,
    before anything is unpacked (zip readers stop at the declared size)."""
    try:
        dtype = np.dtype(spec["dtype"])
        shape = [int(n) for n in spec["shape"]]
    except (TypeError, ValueError, KeyError):
        raise CheckpointError(f"checkpoint index entry {name!r} is malformed") from None
    if dtype.kind not in ARRAY_KINDS or any(n < 0 for n in shape):
        raise CheckpointError(f"array {name!r} has dtype {dtype} or shape {shape}, not allowed")
    data = dtype.itemsize * math.prod(shape)
    if not data <= stored <= data + _NPY_HEADER_MAX:
        raise CheckpointError(f"array {name!r} is stored in {stored} bytes, not {data}")


def _arrays(raw: bytes, index: dict[str, Any]) -> dict[str, np.ndarray]:
    expected = {f"a{i}.npy": name for i, name in enumerate(index)}
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            sizes = {info.filename: info.file_size for info in archive.infolist()}
    except zipfile.BadZipFile:
        raise CheckpointError("checkpoint arrays are not a valid .npz archive") from None
    members = set(sizes)
    if members != set(expected) or len(sizes) != len(expected):
        extra, missing = sorted(members - set(expected)), sorted(set(expected) - members)
        raise CheckpointError(
            f"checkpoint arrays do not match the manifest (extra {extra[:5]}, "
            f"missing {[expected[m] for m in missing][:5]})"
        )
    for member, name in expected.items():
        _check_size(name, index[name], sizes[member])
    out = {}
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            for member, name in expected.items():
                spec = index[name]
                if not isinstance(spec, dict) or not isinstance(spec.get("dtype"), str):
                    raise CheckpointError(f"checkpoint index entry {name!r} is malformed")
                dtype = np.dtype(spec["dtype"])
                if dtype.kind not in ARRAY_KINDS:
                    raise CheckpointError(f"array {name!r} has dtype {dtype}, not allowed")
                array = npz[member[:-4]]
                if array.dtype != dtype or list(array.shape) != spec.get("shape"):
                    raise CheckpointError(
                        f"array {name!r} is {array.dtype}{list(array.shape)}, the manifest "
                        f"says {dtype}{spec.get('shape')}"
                    )
                out[name] = array
    except CheckpointError:
        raise
    except (ValueError, TypeError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise CheckpointError(f"checkpoint arrays cannot be read: {exc}") from None
    return out
