"""The report's monitoring thresholds and status bands, in one place.

The same numbers are shipped as Prometheus alerting rules in
``deploy/prometheus/alerts.yml``; a test checks the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["BANDS", "THRESHOLDS", "Threshold", "evaluate", "status_band"]


@dataclass(frozen=True)
class Threshold:
    """Alert at ``alert``, critical at ``critical``; ``what`` says how the value is measured."""

    name: str
    unit: str
    alert: float
    critical: float
    what: str

    def level(self, value: float | None) -> str:
        """``ok``, ``alert`` or ``critical`` (``n/a`` when nothing was measured)."""
        if value is None:
            return "n/a"
        if value >= self.critical:
            return "critical"
        if value >= self.alert:
            return "alert"
        return "ok"


THRESHOLDS: dict[str, Threshold] = {
    "cpu": Threshold(
        "CPU usage",
        "%",
        80.0,
        95.0,
        # one core: the server's Python threads share one interpreter lock, so 100 % of a
        # core is saturation whatever the machine's core count
        "server process CPU, % of one core, mean over the run",
    ),
    "memory": Threshold(
        "Memory usage", "%", 70.0, 85.0, "machine memory in use, peak over the run"
    ),
    "response": Threshold("Response time", "ms", 500.0, 1000.0, "REST p95 over the run"),
    "errors": Threshold(
        "Error rate", "%", 1.0, 5.0, "failed REST requests and WebSocket operations"
    ),
}

#: status bands on the response time (ms, upper bound exclusive) as in the original report
BANDS: tuple[tuple[str, float], ...] = (
    ("optimal", 100.0),
    ("acceptable", 500.0),
    ("severe", 2000.0),
)


def status_band(response_ms: float | None, error_percent: float) -> str:
    """``optimal`` (< 100 ms), ``acceptable`` (< 500), ``severe`` (< 2 000), else ``failure``.

    ``response_ms`` is the worse of the REST and WebSocket round-trip p95; an error
    rate at or above the critical threshold (5 %) is a failure whatever the latency.
    """
    if response_ms is None or error_percent >= THRESHOLDS["errors"].critical:
        return "failure"
    for name, limit in BANDS:
        if response_ms < limit:
            return name
    return "failure"


def evaluate(values: dict[str, float | None]) -> list[dict[str, Any]]:
    """One row per threshold: the measured value and its level."""
    return [
        {
            "key": key,
            "name": t.name,
            "what": t.what,
            "unit": t.unit,
            "alert": t.alert,
            "critical": t.critical,
            "value": values.get(key),
            "level": t.level(values.get(key)),
        }
        for key, t in THRESHOLDS.items()
    ]
