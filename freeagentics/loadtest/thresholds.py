"""The report's monitoring thresholds, status bands and limit rule, in one place.

The thresholds are shipped as Prometheus alerting rules in
``deploy/prometheus/alerts.yml``; a test checks the two agree. :func:`generator_limits`
decides whether a profile measured the load generator rather than the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "BANDS",
    "GENERATOR_BUSY",
    "LAG_MIN_MS",
    "LAG_SHARE",
    "LIMIT_RULES",
    "MACHINE_BUSY",
    "SERVER_BUSY",
    "SERVER_IDLE",
    "THRESHOLDS",
    "Load",
    "Threshold",
    "evaluate",
    "generator_limits",
    "limit_of",
    "status_band",
]


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
        # one core: a server process's Python threads share one interpreter lock, so 100 %
        # of a core is saturation whatever the machine's core count; Prometheus rates it
        # per process (per scrape target) too
        "busiest server process's CPU, % of one core, mean over the run",
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


# ---------------------------------------------------------------------- who was the limit
#: the generator is busy at this share of its capacity (one core per user process)
GENERATOR_BUSY = 0.9
#: the machine is saturated at this CPU % of all its cores
MACHINE_BUSY = 90.0
#: a server process under this % of one core had room to spare
SERVER_IDLE = 50.0
#: a server process at or over this % of one core is saturated
SERVER_BUSY = 90.0
#: the generator's timers running late by this share of the p95 it reports (and at least
#: LAG_MIN_MS) means its own delays are a large part of what it measured
LAG_SHARE = 0.25
LAG_MIN_MS = 10.0

#: the rule, as the report prints it
LIMIT_RULES = (
    f"the generator, not the server, was the limit of a profile when any of: "
    f"(1) the generator's CPU reached {GENERATOR_BUSY:.0%} of its capacity (100 % of a "
    f"core per user process, at most the machine's cores); (2) the machine's CPU reached "
    f"{MACHINE_BUSY:g} % and the generator used at least as much of it as the server; "
    f"(3) latency left the optimal band while every server process stayed under "
    f"{SERVER_IDLE:g} % of a core (and the server as a whole under {SERVER_IDLE:g} % of the "
    f"machine) and the machine's CPU stayed under {MACHINE_BUSY:g} % (so the cores were not "
    f"taken by other work); (4) the generator's loop-lag p95 (how late its timers fire) reached "
    f"{LAG_SHARE:.0%} of the worse REST/ping p95 and at least {LAG_MIN_MS:g} ms. Otherwise, "
    f"when latency left the optimal band, the machine was the limit if its CPU reached "
    f"{MACHINE_BUSY:g} % while no server process had {SERVER_BUSY:g} % of a core (the server "
    f"waited for cores others used), else the server was; the server was also the limit "
    f"when a server process reached {SERVER_BUSY:g} % of a core; neither was when all had room."
)


@dataclass(frozen=True)
class Load:
    """One profile's measured window, CPU in % of one core (100 = a core busy).

    ``server_cpu`` is the server's whole process tree, ``server_busiest`` its busiest
    process; ``machine_cpu`` is % of all ``cores``; ``worst_p95_ms`` the worse of the REST
    and ping p95 (what the band is judged on).
    """

    cores: int
    server_cpu: float
    server_busiest: float
    generator_cpu: float
    generator_processes: int
    machine_cpu: float
    loop_lag_p95_ms: float | None
    worst_p95_ms: float | None
    band: str


def generator_limits(load: Load) -> list[str]:
    """The reasons (rules of :data:`LIMIT_RULES`) why the generator was the limit; [] if not."""
    reasons = []
    capacity = 100.0 * min(load.generator_processes, load.cores)
    if capacity and load.generator_cpu >= GENERATOR_BUSY * capacity:
        reasons.append(
            f"(1) generator CPU {load.generator_cpu:.0f} % of a core, "
            f"≥ {GENERATOR_BUSY:.0%} of its {capacity:.0f} %"
        )
    if load.machine_cpu >= MACHINE_BUSY and load.generator_cpu >= load.server_cpu:
        reasons.append(
            f"(2) machine CPU {load.machine_cpu:.0f} % and the generator "
            f"({load.generator_cpu:.0f} %) used at least the server's {load.server_cpu:.0f} %"
        )
    if (
        load.band != "optimal"
        and load.server_busiest < SERVER_IDLE
        and load.server_cpu < SERVER_IDLE * load.cores
        and load.machine_cpu < MACHINE_BUSY
    ):
        reasons.append(
            f"(3) {load.band} latency while the busiest server process used "
            f"{load.server_busiest:.0f} % of a core"
        )
    if load.loop_lag_p95_ms is not None:
        bar = max(LAG_MIN_MS, LAG_SHARE * (load.worst_p95_ms or 0.0))
        if load.loop_lag_p95_ms >= bar:
            reasons.append(
                f"(4) generator loop lag p95 {load.loop_lag_p95_ms:.1f} ms ≥ {bar:.1f} ms"
            )
    return reasons


def limit_of(load: Load) -> str:
    """``generator``, ``machine``, ``server`` or ``none`` (see :data:`LIMIT_RULES`)."""
    if generator_limits(load):
        return "generator"
    starved = load.machine_cpu >= MACHINE_BUSY and load.server_busiest < SERVER_BUSY
    if load.band != "optimal":
        return "machine" if starved else "server"
    if load.server_busiest >= SERVER_BUSY:
        return "server"
    return "none"
