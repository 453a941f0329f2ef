"""Latency records: exact percentiles from kept samples, plus HDR-style log buckets.

Why both: a load test's samples number in the tens of thousands at most, so keeping
every sample (as float milliseconds) is cheap and gives *exact* percentiles (nearest
rank: the reported p95 is a latency that was actually observed). The log-bucketed
counts (each bucket ``2**(1/8)`` wide, about 9 % relative width, from 1 µs) are what an
HDR histogram keeps; they merge by addition and are what the plots draw, and a
reader can check any exact percentile against the bucket it falls in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["BUCKETS_PER_OCTAVE", "LatencyRecord", "bucket_of", "percentile"]

#: buckets per doubling of latency
BUCKETS_PER_OCTAVE = 8
#: lower edge of bucket 0, milliseconds (1 µs)
BASE_MS = 1e-3


def bucket_of(ms: float) -> int:
    """Index of the log bucket holding ``ms`` (values below 1 µs go to bucket 0)."""
    if ms <= BASE_MS:
        return 0
    return math.floor(math.log2(ms / BASE_MS) * BUCKETS_PER_OCTAVE)


def bucket_bounds(index: int) -> tuple[float, float]:
    """Lower and upper edge, in milliseconds, of bucket ``index``."""
    return (
        BASE_MS * 2 ** (index / BUCKETS_PER_OCTAVE),
        BASE_MS * 2 ** ((index + 1) / BUCKETS_PER_OCTAVE),
    )


def percentile(sorted_ms: Sequence[float], q: float) -> float | None:
    """Nearest-rank ``q``-th percentile (0 < q ≤ 100) of already sorted samples."""
    if not sorted_ms:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_ms)))
    return float(sorted_ms[rank - 1])


class LatencyRecord:
    """Latencies of one kind of operation, in milliseconds; mergeable across processes."""

    def __init__(self, samples: Iterable[float] = ()):
        self.samples: list[float] = [float(s) for s in samples]

    def add(self, ms: float) -> None:
        self.samples.append(float(ms))

    def merge(self, other: LatencyRecord) -> LatencyRecord:
        """A new record holding both records' samples."""
        return LatencyRecord(self.samples + other.samples)

    def buckets(self) -> dict[int, int]:
        """Log-bucket index → count."""
        counts: dict[int, int] = {}
        for s in self.samples:
            b = bucket_of(s)
            counts[b] = counts.get(b, 0) + 1
        return dict(sorted(counts.items()))

    def summary(self) -> dict[str, Any]:
        """Count, mean, min, max and exact p50/p90/p95/p99/p99.9 (ms; None when empty)."""
        ordered = sorted(self.samples)
        n = len(ordered)
        out: dict[str, Any] = {
            "count": n,
            "avg": sum(ordered) / n if n else None,
            "min": ordered[0] if n else None,
            "max": ordered[-1] if n else None,
        }
        for name, q in (("p50", 50), ("p90", 90), ("p95", 95), ("p99", 99), ("p999", 99.9)):
            out[name] = percentile(ordered, q)
        return out

    def to_json(self) -> dict[str, Any]:
        """Samples and buckets, as written to the raw files."""
        return {
            "samples_ms": self.samples,
            "buckets": {str(k): v for k, v in self.buckets().items()},
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> LatencyRecord:
        return cls(doc.get("samples_ms", ()))
