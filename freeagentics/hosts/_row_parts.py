"""Cutting a population's rows into parts and putting them back together.

A shard holds rows ``start:stop`` of each kind's cohort. Which rows go where
(:func:`plan_parts`), a cohort's state cut to some rows (:func:`rows_of`) and parts
joined again (:func:`join_rows`) are plain array work; so is
:class:`RowSliceGenerator`, which gives a part the random numbers its rows would
have drawn in the whole.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from freeagentics.errors import ConfigurationError
from freeagentics.state import CheckpointError, State

__all__ = ["RowSliceGenerator", "join_rows", "plan_parts", "rows_of"]


def plan_parts(n: int, weights: Sequence[float], smallest: int = 1) -> list[tuple[int, int]]:
    """Contiguous ``(start, stop)`` rows of ``n`` for each part, sized by ``weights``.

    A part that would hold fewer than ``min(smallest, n)`` rows (but some) gives them to
    its nearest non-empty neighbour, left first, until none does: a cohort whose
    arithmetic depends on the batch below some size (see
    :func:`~freeagentics.agents._engines.smallest_part`) is never cut that fine.

    Returns:
        one ``(start, stop)`` per weight; empty parts are ``(s, s)``.
    """
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or not w.size or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ConfigurationError(f"shard weights must be >= 0 with a positive sum, got {weights}")
    bounds = np.rint(np.concatenate([[0.0], np.cumsum(w)]) / w.sum() * n).astype(np.int64)
    sizes = np.diff(bounds)
    least = min(max(1, smallest), n)
    for i in range(sizes.size):
        if 0 < sizes[i] < least:
            left = [j for j in range(i - 1, -1, -1) if sizes[j]]
            right = [j for j in range(i + 1, sizes.size) if sizes[j]]
            # a small part merges with its nearest neighbour, and so on until none is small
            j = left[0] if left else right[0] if right else i
            if j != i:
                sizes[j] += sizes[i]
                sizes[i] = 0
    stops = np.cumsum(sizes)
    return [(int(b - s), int(b)) for s, b in zip(sizes, stops, strict=True)]


def rows_of(state: State, start: int, stop: int) -> State:
    """Rows ``start:stop`` of a cohort's state (every array of it is per row): views."""
    values = dict(state.values)
    values["n"] = stop - start
    return State({k: a[start:stop] for k, a in state.arrays.items()}, values)


def join_rows(parts: Sequence[State]) -> State:
    """The cohort state whose rows are ``parts``' rows in order (parts cut from one
    cohort by :func:`rows_of` and stepped apart: their other values agree)."""
    parts = [p for p in parts if p.values["n"]] or list(parts[:1])
    first = parts[0]
    for p in parts[1:]:
        others = {k: v for k, v in p.values.items() if k != "n"}
        if others != {k: v for k, v in first.values.items() if k != "n"} or set(p.arrays) != set(
            first.arrays
        ):
            raise CheckpointError("shards disagree on their cohort's shared state")
    values = dict(first.values)
    values["n"] = sum(p.values["n"] for p in parts)
    arrays = {k: np.concatenate([p.arrays[k] for p in parts]) for k in first.arrays}
    return State(arrays, values)


class RowSliceGenerator:
    """The random numbers rows ``start:stop`` of ``total`` get from a generator that
    draws one value per row for all rows at once (as action sampling does).

    Every part holds a copy of the whole's generator; a draw of ``stop - start`` values
    skips the ``start`` before (``advance``), draws, and skips the ``total - stop``
    after, so every copy stays where the whole's generator is, and each row gets the
    value it would have drawn unsharded. Only ``random(size)`` (one 64-bit output per
    value) may be drawn.
    """

    def __init__(self, generator: np.random.Generator, start: int, stop: int, total: int):
        if not hasattr(generator.bit_generator, "advance"):
            raise ConfigurationError(
                f"{type(generator.bit_generator).__name__} cannot skip ahead; "
                "sharded cohorts need a PCG64 generator"
            )
        if not 0 <= start <= stop <= total:
            raise ConfigurationError(f"rows {start}:{stop} do not lie in 0..{total}")
        self.generator = generator
        self.start, self.stop, self.total = start, stop, total

    @property
    def bit_generator(self):
        """The whole's position (the same in every part between draws)."""
        return self.generator.bit_generator

    def random(self, size: int) -> np.ndarray:
        """``(size,)`` float64 uniforms of this part's rows (``size = stop - start``)."""
        if size != self.stop - self.start:
            raise ConfigurationError(f"a part of {self.stop - self.start} rows drew {size}")
        self.bit_generator.advance(self.start)
        out = self.generator.random(size)
        self.bit_generator.advance(self.total - self.stop)
        return out

    def __getattr__(self, name: str):
        if name.startswith("__"):  # the protocols of copy and pickle look for these
            raise AttributeError(name)
        raise ConfigurationError(
            f"a sharded cohort's generator draws one value per row only; {name!r} is not one"
        )
