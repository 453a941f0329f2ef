"""bfloat16 storage for the belief history: the upper 16 bits of a float32, rounded.

Relative error at most 2⁻⁸ (seven fraction bits), the full float32 range, and cheap
to make: a float16 conversion would crawl through the subnormal range where most
probabilities of a peaked belief fall.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["from_bfloat16", "store_bfloat16"]


# serial on purpose: the loop is memory-bound, and waking a thread pool costs more
@numba.njit(cache=True, nogil=True)
def _store(bits, out):  # pragma: no cover - compiled
    n_rows, n_cols = bits.shape
    for n in range(n_rows):
        for i in range(n_cols):
            b = bits[n, i]
            # round to nearest, ties to even, then keep the upper half
            out[n, i] = (
                b + np.uint32(0x7FFF) + ((b >> np.uint32(16)) & np.uint32(1))
            ) >> np.uint32(16)


def store_bfloat16(values: np.ndarray, out: np.ndarray) -> None:
    """Write ``values`` ``(N, S)`` (finite, float32-representable) into ``out`` ``(N, S)``
    uint16 (may be a strided view, e.g. one slot of a ring buffer)."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    _store(bits, out)


def from_bfloat16(bits: np.ndarray) -> np.ndarray:
    """bfloat16 bits (uint16, any shape) → float32."""
    return (bits.astype(np.uint32) << 16).view(np.float32)
