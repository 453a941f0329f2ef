"""Exact state of simulation components, and the checkpoint format that stores it.

Each stateful component exports a :class:`State` (named arrays plus JSON values)
with ``export_state()`` and takes it back with ``import_state()``; :func:`encode` and
:func:`decode` turn a state into checkpoint bytes and back: an ``.npz`` read with
``allow_pickle=False`` and a JSON manifest, behind an HMAC-SHA256 (or a plain
SHA-256 without a key). Random generators travel as their bit generator's state in
JSON (:func:`rng_state`, :func:`rng_from_state`).
"""

from freeagentics.state._format import LEGACY_FORMAT, MAGIC, VERSION, decode, encode
from freeagentics.state._rng import rng_from_state, rng_state
from freeagentics.state._state import CheckpointError, State

__all__ = [
    "LEGACY_FORMAT",
    "MAGIC",
    "VERSION",
    "CheckpointError",
    "State",
    "decode",
    "encode",
    "rng_from_state",
    "rng_state",
]
