"""Prometheus metrics of the server, in a registry of its own, served at ``/metrics``.

Updated where things happen (tick durations by the runners, database writes by the
service and the storage writers, HTTP requests by :mod:`.http_metrics`, WebSocket
connections and messages by the hub's ``MetricsSync``), and read at scrape time where a
value already lives elsewhere (agents by kind, queue depths, each simulation's latest
activity).

Activity gauges carry a ``simulation`` label (the simulation's id; at most the server's
``max_simulations`` values): ``freeagentics_simulation_moving_fraction`` (this tick),
``freeagentics_simulation_moving_fraction_avg`` (over the last ``stuck_ticks`` ticks),
``freeagentics_simulation_alive_fraction``, ``freeagentics_simulation_agents_alive``,
``freeagentics_simulation_agents_dead``, ``freeagentics_simulation_agents_stuck``, and
``freeagentics_simulation_warning{simulation, warning}`` (1 while the warning holds, 0
otherwise; ``warning`` is one of ``frozen``, ``stuck``, ``dying``).

When simulations run in a host process, the metrics are split by where things happen
(:data:`PARTS`): the host keeps the ``host`` part (ticks, database writes, restores,
the live gauges) in a registry of its own, and the API's ``/metrics``
shows them beside its ``api`` part (HTTP, WebSocket) through :class:`HostCollector`,
which asks the host for its families at scrape time. The names are the same either way;
``process_*`` then come once per process, labelled ``process="api"`` or ``"host"``, and
``freeagentics_host_up`` and ``freeagentics_host_restarts_total`` tell of the host.

When each simulation runs in a Ray actor of its own, the API asks every actor for its
families and merges them (:func:`merge_families`: samples of the same name and labels
added, the latest write's duration the largest; ``process_*`` labelled
``process="sim-ID"``, one per actor), and :class:`FailoverCollector` adds
``freeagentics_simulation_failovers_total`` and
``freeagentics_simulation_ticks_lost_total``, the deployment's failovers and the ticks
they lost (kept in Redis: a count must outlive the processes that died).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Literal

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from freeagentics.server.metric_families import FamilySum, to_metrics

__all__ = [
    "PARTS",
    "FailoverCollector",
    "HostCollector",
    "ServerMetrics",
    "families",
    "merge_families",
    "merge_gauges",
]

#: which metrics a registry holds: all (one process), or the API's or the host's share
PARTS = ("all", "api", "host")
Part = Literal["all", "api", "host"]

TICK_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
WRITE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _LiveGauges(Collector):
    """Agents by kind and queue depths, read from the service at scrape time."""

    def __init__(self, read: Callable[[], dict[str, Any]]):
        self._read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        values = self._read()
        agents = GaugeMetricFamily(
            "freeagentics_agents", "Agents alive, by kind, over all simulations.", labels=["kind"]
        )
        for kind, n in sorted(values["agents_by_kind"].items()):
            agents.add_metric([kind], n)
        yield agents
        queues = GaugeMetricFamily(
            "freeagentics_queue_depth", "Items waiting in internal queues.", labels=["queue"]
        )
        for queue, depth in sorted(values["queues"].items()):
            queues.add_metric([queue], depth)
        yield queues
        yield GaugeMetricFamily(
            "freeagentics_db_last_batch_write_seconds",
            "Duration of the storage writers' latest batch write.",
            value=values["last_write_seconds"],
        )
        yield from _activity_gauges(values.get("activity", {}))


_ACTIVITY_GAUGES = (
    ("moving_fraction", "moving_fraction", "Share of agents that changed cell this tick."),
    (
        "moving_fraction_avg",
        "moving_fraction_avg",
        "Share of agents changing cell per tick, averaged over the stuck window.",
    ),
    ("alive_fraction", "alive_fraction", "Share of agents with energy above 0."),
    ("agents_alive", "alive", "Agents with energy above 0."),
    ("agents_dead", "dead", "Agents exhausted (energy 0)."),
    ("agents_stuck", "stuck", "Alive agents that have not changed cell for the stuck window."),
)


def _activity_gauges(activity: dict[int, dict[str, Any]]) -> Iterator[GaugeMetricFamily]:
    """Per simulation: the activity gauges and one 0/1 gauge per warning."""
    from freeagentics.simulation import WARNINGS  # where the simulations run

    for name, key, text in _ACTIVITY_GAUGES:
        family = GaugeMetricFamily(f"freeagentics_simulation_{name}", text, labels=["simulation"])
        for sim_id, figures in sorted(activity.items()):
            family.add_metric([str(sim_id)], figures[key])
        yield family
    warnings = GaugeMetricFamily(
        "freeagentics_simulation_warning",
        "1 while a simulation's agents are frozen, stuck or dying.",
        labels=["simulation", "warning"],
    )
    for sim_id, figures in sorted(activity.items()):
        raised = {w["code"] for w in figures["warnings"]}
        for code in WARNINGS:
            warnings.add_metric([str(sim_id), code], float(code in raised))
    yield warnings


class ServerMetrics:
    """The metrics of one app, in their own registry; the hub updates ``ws_*``/``messages_*``.

    ``part`` says which of them this process keeps (see the module docstring); the
    attributes of the other part are ``None``.
    """

    def __init__(self, part: Part = "all") -> None:
        if part not in PARTS:
            raise ValueError(f"part must be one of {PARTS}, got {part!r}")
        self.part = part
        self.registry = CollectorRegistry(auto_describe=True)
        #: what :meth:`render` shows when not the registry (an API worker among several:
        #: the whole server's figures, :mod:`.worker_metrics`)
        self.view: Collector | None = None
        r = self.registry
        if part != "api":  # the API's share shows them with the host's: HostCollector
            ProcessCollector(registry=r)  # process_resident_memory_bytes and friends
        if part != "host":
            PlatformCollector(registry=r)
        host, api = part != "api", part != "host"
        self.tick_seconds = (
            Histogram(
                "freeagentics_tick_duration_seconds",
                "Duration of one simulation tick.",
                buckets=TICK_BUCKETS,
                registry=r,
            )
            if host
            else None
        )
        self.db_write_seconds = (
            Histogram(
                "freeagentics_db_write_seconds",
                "Duration of database writes made by the server: the service's own and each "
                "batch of the simulations' storage writers.",
                buckets=WRITE_BUCKETS,
                registry=r,
            )
            if host
            else None
        )
        self.http_seconds = (
            Histogram(
                "freeagentics_http_request_duration_seconds",
                "Time from an HTTP request's arrival to its response's last byte, by method "
                "and route template.",
                ["method", "route"],
                buckets=HTTP_BUCKETS,
                registry=r,
            )
            if api
            else None
        )
        self.http_errors = (
            Counter(
                "freeagentics_http_errors",
                "HTTP responses with a 4xx or 5xx status, by method, route template and status.",
                ["method", "route", "status"],
                registry=r,
            )
            if api
            else None
        )
        self.ws_connections = (
            Gauge("freeagentics_websocket_connections", "Open WebSocket connections.", registry=r)
            if api
            else None
        )
        self.ws_queue_depth = (
            Gauge(
                "freeagentics_websocket_queue_depth",
                "Frames waiting in WebSocket send queues, all clients.",
                registry=r,
            )
            if api
            else None
        )
        self.messages_sent = (
            Counter("freeagentics_messages_sent", "WebSocket messages sent.", ["topic"], registry=r)
            if api
            else None
        )
        self.messages_dropped = (
            Counter(
                "freeagentics_messages_dropped",
                "WebSocket messages dropped (replaced latest-wins).",
                ["topic"],
                registry=r,
            )
            if api
            else None
        )
        self.frames_superseded = (
            Counter(
                "freeagentics_frames_superseded",
                "Frames replaced by a newer frame of their topic before the server could fan "
                "them out (the event loop was behind).",
                registry=r,
            )
            if api
            else None
        )
        self.frames_skipped = (
            Counter(
                "freeagentics_frames_skipped",
                "Frames a WebSocket subscriber never got because a newer frame of its topic "
                "replaced them before the egress budget reached it, by topic.",
                ["topic"],
                registry=r,
            )
            if api
            else None
        )
        self.ws_egress_bytes = (
            Counter(
                "freeagentics_websocket_egress_bytes",
                "Bytes of frames written (or queued) to WebSocket clients.",
                registry=r,
            )
            if api
            else None
        )
        self.ws_egress_limit = (
            Gauge(
                "freeagentics_websocket_egress_limit_bytes_per_second",
                "The egress budget: most bytes of frames written per second "
                "(FREEAGENTICS_WS_EGRESS_BYTES_PER_S).",
                registry=r,
            )
            if api
            else None
        )
        self.simulations_restored = (
            Counter(
                "freeagentics_simulations_restored",
                "Simulations restored from their latest checkpoint when the server (or its "
                "simulation host) started.",
                registry=r,
            )
            if host
            else None
        )
        self.ticks_lost = (
            Counter(
                "freeagentics_restore_ticks_lost",
                "Ticks lost by simulations restored at start (last stored tick minus checkpoint).",
                registry=r,
            )
            if host
            else None
        )

    def restored(self, ticks_lost: int) -> None:
        """Count a simulation restored at start and the ticks it lost."""
        assert self.simulations_restored is not None and self.ticks_lost is not None
        self.simulations_restored.inc()
        self.ticks_lost.inc(ticks_lost)

    def watch(self, read: Callable[[], dict[str, Any]]) -> None:
        """Export the gauges ``read()`` returns (see ``SimulationService.gauges``)."""
        self.registry.register(_LiveGauges(read))

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.view if self.view is not None else self.registry)


def families(registry: CollectorRegistry | Collector) -> list[list[Any]]:
    """Every family of ``registry`` (or of one collector) as plain data for another process:
    ``[[name, type, help, [[sample name, labels, value], ...]], ...]``."""
    return [
        [m.name, m.type, m.documentation, [[s.name, dict(s.labels), s.value] for s in m.samples]]
        for m in registry.collect()
    ]


def _relabelled(metric: Metric, process: str) -> Metric:
    out = Metric(metric.name, metric.documentation, metric.type)
    for sample in metric.samples:  # a sample that names its process keeps the name
        out.add_sample(sample.name, {"process": process, **sample.labels}, sample.value)
    return out


#: gauges whose merge over hosts is the largest value, not the sum
_LARGEST = frozenset({"freeagentics_db_last_batch_write_seconds"})


def merge_families(per_host: dict[int, list[list[Any]]]) -> list[list[Any]]:
    """The :func:`families` of several simulations' hosts (``{sim_id: families}``) as one
    host's: samples of equal name and labels added (the largest for :data:`_LARGEST`,
    the earliest ``*_created``), ``process_*`` samples labelled ``process="sim-ID"``."""
    total = FamilySum(largest=_LARGEST)
    for sim_id, fams in sorted(per_host.items()):
        process = {"process": f"sim-{sim_id}"}
        total.add(fams, lambda name, p=process: p if name.startswith("process_") else None)
    return total.families()


def merge_gauges(per_host: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """``SimulationService.gauges()`` of several hosts as one's (agents and queues added,
    the latest write's duration the largest, activity per simulation side by side)."""
    kinds: dict[str, int] = {}
    queues: dict[str, int] = {}
    activity: dict[int, Any] = {}
    last = 0.0
    for gauges in per_host.values():
        for kind, n in gauges["agents_by_kind"].items():
            kinds[kind] = kinds.get(kind, 0) + n
        for queue, depth in gauges["queues"].items():
            queues[queue] = queues.get(queue, 0) + depth
        activity.update(gauges.get("activity", {}))
        last = max(last, gauges["last_write_seconds"])
    return {
        "agents_by_kind": kinds,
        "queues": queues,
        "last_write_seconds": last,
        "activity": activity,
    }


class FailoverCollector(Collector):
    """The deployment's failovers and the ticks they lost; ``read()`` returns the two
    totals (and raises when they cannot be read: the counters are then left out)."""

    def __init__(self, read: Callable[[], tuple[int, int]]):
        self._read = read

    def collect(self) -> Iterator[Metric]:
        try:
            failovers, ticks = self._read()
        except Exception:
            return
        yield CounterMetricFamily(
            "freeagentics_simulation_failovers",
            "Times a simulation resumed from its latest checkpoint on another host after its "
            "host (process or node) died.",
            value=failovers,
        )
        yield CounterMetricFamily(
            "freeagentics_simulation_ticks_lost",
            "Ticks lost by those failovers (last stored tick minus the checkpoint's).",
            value=ticks,
        )


class HostCollector(Collector):
    """The host's metric families at scrape time, beside this process's ``process_*``.

    Args:
        fetch: returns :func:`families` of the host's registry (raises when the host
            does not answer: its families are then left out and ``freeagentics_host_up``
            is 0).
        restarts: how many times the host was restarted.
        own_process: the ``process`` label of this process's ``process_*`` figures;
            None leaves them out (an API worker among several shows them with the
            other workers').
    """

    def __init__(
        self,
        fetch: Callable[[], list[list[Any]]],
        restarts: Callable[[], int],
        own_process: str | None = "api",
    ):
        self._fetch, self._restarts = fetch, restarts
        self._own = ProcessCollector(registry=None) if own_process is not None else None
        self._own_process = own_process

    def collect(self) -> Iterator[Metric]:
        try:
            fetched, up = self._fetch(), 1.0
        except Exception:
            fetched, up = [], 0.0
        yield GaugeMetricFamily(
            "freeagentics_host_up", "1 while the simulation host answers.", value=up
        )
        yield CounterMetricFamily(
            "freeagentics_host_restarts",
            "Times the simulation host was restarted after it died.",
            value=self._restarts(),
        )
        merged: dict[str, Metric] = {}
        if self._own is not None and self._own_process is not None:
            merged = {m.name: _relabelled(m, self._own_process) for m in self._own.collect()}
        for metric in to_metrics(fetched):
            if metric.name in merged:  # the same process_* family: one family, two processes
                merged[metric.name].samples.extend(_relabelled(metric, "host").samples)
            elif metric.name.startswith("process_"):
                merged[metric.name] = _relabelled(metric, "host")
            else:
                yield metric
        yield from merged.values()
