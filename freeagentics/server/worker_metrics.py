"""``/metrics`` of ``serve --workers N``: every API worker shows the whole server.

A scrape reaches the one worker the kernel hands its connection to. So that every scrape
shows the same server, each worker publishes its own figures to Redis, and every
worker's ``/metrics`` merges what all of them published with the simulation host's.

**Publishing.** Worker ``k`` keeps two entries in Redis (:class:`WorkerMetricsStore`;
MessagePack ``{"worker": k, "families": [...]}``, see
:mod:`freeagentics.server.metric_families`; nothing is pickled):

* ``<prefix>:metrics:<k>``, its *live* figures: gauges and ``process_*``, with a TTL of
  :data:`TTL_PERIODS` publishing periods, so the figures of a worker that stops
  publishing (dead, or hung) leave every scrape within that time;
* ``<prefix>:metrics:<k>:totals``, its counters and histograms added to the totals of
  the processes that were worker ``k`` before it in this run (read once, before its
  first write), kept :data:`TOTALS_TTL_S` after the last write.

It writes both every ``metrics_publish_seconds`` (a thread) and at every scrape it
answers, before reading the others', under one lock: an entry never goes back in time.
``<prefix>`` is ``ws_redis_prefix``. The supervisor clears the entries when the server
starts.

**Merging** (:func:`merge_workers`), family by family:

* counters and histograms (but ``process_*``): added over every worker's *totals*
  entry, those of workers gone meanwhile included (the requests they served happened);
* ``freeagentics_websocket_connections``, ``freeagentics_websocket_queue_depth`` and
  ``freeagentics_websocket_egress_limit_bytes_per_second`` (:data:`SUMMED_GAUGES`):
  added over the live workers, the server's figure (each worker has its own egress
  budget);
* ``process_*``: one series per worker, labelled ``process="api-<k>"``, beside the
  host's ``process="host"``;
* every other gauge (``freeagentics_shared_limits_up``, ``python_info``...): one series
  per live worker, labelled ``worker="<k>"``: a sum of up/down states means nothing;
* the host's families, ``freeagentics_host_up`` and ``freeagentics_host_restarts_total``:
  once, as the answering worker asks the host at scrape time.

Beside them, at scrape time: ``freeagentics_metrics_workers_reporting`` (workers whose
live figures are in this scrape, the answering one included),
``freeagentics_metrics_workers_configured`` (``workers``) and
``freeagentics_metrics_shared_up`` (1 when the others' figures could be read, 0 when
this scrape holds only the answering worker's own).

**Counters and restarts.** Prometheus' ``rate()`` reads any decrease of a counter as a
restart from zero and counts the counter's whole new value as increase. A plain sum
over the live workers would fall whenever one of them restarts or goes, and ``rate()``
would then count the survivors' whole totals again: a spike as large as the server's
history. The totals entries keep the sum from falling: a new worker ``k`` counts on from
its predecessors' totals, and a dead worker's totals stay in the sum. What a crashed
worker counted after its last publish (at most one period) is never counted: a lost
increment, never a decrease. Two scrapes in a row see every sum grow whichever workers
answer them, because the answering worker publishes before it reads and every entry
only grows. A restart of the whole server starts the sums from zero again, the reset
``rate()`` is made for. Only a loss of Redis's data while the server runs (a restart
without persistence), or a totals entry left out as malformed, makes a sum fall; ``rate()``
then reads one false reset.

**Redis unreachable.** ``/metrics`` still answers, at once: the answering worker's own
figures (counters with its predecessors' totals when it could read them), every family
labelled ``worker="<k>"`` (``process_*``: ``process="api-<k>"``), so that the summed
series are absent from that scrape rather than seen to fall;
``freeagentics_metrics_shared_up`` is 0 and ``freeagentics_metrics_workers_reporting``
1. A scrape tries Redis again one period after it failed (the thread every period).

**Bounds.** A scrape reads ``2 × workers`` keys in one script, which returns an entry
only when it is at most :data:`MAX_ENTRY_BYTES` (else its length), so an oversized entry
never crosses the wire; an entry that is not such MessagePack, names another worker,
holds a family of the other entry's kind or breaks the limits of
:func:`~freeagentics.server.metric_families.checked` is left out. Both are counted in
``freeagentics_metrics_entries_rejected_total{reason="oversized"|"malformed"}``. A
worker whose own figures outgrow the cap does not publish them and counts
``freeagentics_metrics_publish_failures_total`` (so does a publish Redis refused).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import msgpack
import redis
from prometheus_client import CollectorRegistry, Counter, ProcessCollector
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from freeagentics.server.metric_families import Families, FamilySum, checked, to_metrics
from freeagentics.server.metrics import families
from freeagentics.server.settings import MAX_WORKERS

__all__ = [
    "MAX_ENTRY_BYTES",
    "SUMMED_GAUGES",
    "TOTALS_TTL_S",
    "TTL_PERIODS",
    "WorkerFigures",
    "WorkerMetricsStore",
    "WorkersCollector",
    "decode_entry",
    "encode_entry",
    "merge_workers",
]

log = logging.getLogger("freeagentics.server.worker_metrics")

#: a live entry lives this many publishing periods
TTL_PERIODS = 3
#: a totals entry lives this long after its worker's last write (a successor takes it
#: over within seconds; this only bounds what a server that died leaves in Redis)
TOTALS_TTL_S = 24 * 3600
#: the largest entry read or written (a worker that served 60 routes with several error
#: codes each publishes some 350 kB)
MAX_ENTRY_BYTES = 4 * 1024 * 1024
#: seconds one Redis call may take
REDIS_TIMEOUT_S = 1.0
#: gauges whose sum over the workers is the server's figure
SUMMED_GAUGES = frozenset(
    {
        "freeagentics_websocket_connections",
        "freeagentics_websocket_queue_depth",
        "freeagentics_websocket_egress_limit_bytes_per_second",
    }
)
#: what counts as Redis being unreachable
UNREACHABLE = (redis.RedisError, OSError)

#: per key: false (none), its length (larger than ARGV[1]; -1: not a string), or the value
_READ_SCRIPT = """
local out = {}
for i, key in ipairs(KEYS) do
  local size = redis.pcall('STRLEN', key)
  if type(size) ~= 'number' then out[i] = -1
  elseif size == 0 then out[i] = false
  elseif size > tonumber(ARGV[1]) then out[i] = size
  else out[i] = redis.call('GET', key) end
end
return out
"""

Raw = bytes | int | None


def is_total(name: str, kind: str) -> bool:
    """Whether a family goes to the totals entry (added over every worker, kept after it)."""
    return kind in ("counter", "histogram") and not name.startswith("process_")


def encode_entry(index: int, fams: Families) -> bytes:
    """Worker ``index``'s entry for ``fams``."""
    return msgpack.packb({"worker": index, "families": fams}, use_bin_type=True)


def decode_entry(raw: bytes, index: int, *, totals: bool) -> Families:
    """The families of worker ``index``'s live (or ``totals``) entry ``raw``; ValueError
    when it is anything else (see the module docstring)."""
    try:
        entry = msgpack.unpackb(raw, raw=False, strict_map_key=True)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise ValueError(f"not MessagePack: {exc}") from None
    if not isinstance(entry, dict) or set(entry) != {"worker", "families"}:
        raise ValueError("not a map of worker and families")
    if entry["worker"] != index or isinstance(entry["worker"], bool):
        raise ValueError(f"names worker {str(entry['worker'])[:20]}, not {index}")
    fams = checked(entry["families"])
    for name, kind, _, _ in fams:
        if is_total(name, kind) != totals:
            raise ValueError(f"{name} ({kind}) does not belong in this entry")
    return fams


def _worker_labels(name: str, index: int, *, alone: bool = False) -> dict[str, str] | None:
    """The labels worker ``index``'s live family ``name`` takes in the merge (``alone``:
    when its figures are shown without the others', every family's)."""
    if name.startswith("process_"):
        return {"process": f"api-{index}"}
    if name in SUMMED_GAUGES and not alone:
        return None
    return {"worker": str(index)}


def merge_workers(live: dict[int, Families], totals: dict[int, Families]) -> tuple[Families, int]:
    """Live and totals families by worker as the server's (the rules of the module
    docstring), and how many families were left out for a type that differs from the
    one first seen under their name."""
    total = FamilySum()
    for _, fams in sorted(totals.items()):
        total.add(fams)
    for index, fams in sorted(live.items()):
        total.add(fams, lambda name, k=index: _worker_labels(name, k))
    return total.families(), total.conflicts


def _labelled_own(live: Families, totals: Families, index: int) -> Families:
    """One worker's figures alone, every family labelled as its (Redis is unreachable)."""
    total = FamilySum()
    total.add(live + totals, lambda name: _worker_labels(name, index, alone=True))
    return total.families()


def _size_fault(size: int) -> str:
    return f"{size} bytes, more than the limit" if size > 0 else "not a string"


class WorkerMetricsStore:
    """The workers' entries of one deployment (``prefix``) in the Redis at ``url``."""

    def __init__(
        self,
        url: str,
        prefix: str,
        *,
        max_entry_bytes: int = MAX_ENTRY_BYTES,
        timeout_s: float = REDIS_TIMEOUT_S,
    ):
        self.prefix, self.max_entry_bytes = prefix, max_entry_bytes
        self.redis = redis.Redis.from_url(
            url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s
        )
        self._read = self.redis.register_script(_READ_SCRIPT)

    def live_key(self, index: int) -> str:
        return f"{self.prefix}:metrics:{index}"

    def totals_key(self, index: int) -> str:
        return f"{self.prefix}:metrics:{index}:totals"

    def put(self, index: int, live: bytes, totals: bytes, ttl_s: float) -> None:
        """Write worker ``index``'s two entries together."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(self.live_key(index), live, px=max(1, round(ttl_s * 1000)))
        pipe.set(self.totals_key(index), totals, ex=TOTALS_TTL_S)
        pipe.execute()

    def read(self, count: int) -> list[tuple[Raw, Raw]]:
        """``(live, totals)`` of workers ``0..count-1``: each the entry's bytes, None when
        absent, or its length when larger than ``max_entry_bytes`` (-1: not a string)."""
        keys = [self.live_key(i) for i in range(count)] + [self.totals_key(i) for i in range(count)]
        raw = self._read(keys=keys, args=[self.max_entry_bytes])
        return list(zip(raw[:count], raw[count:], strict=True))

    def read_totals(self, index: int) -> Raw:
        """Worker ``index``'s totals entry, as :meth:`read` gives it."""
        return self._read(keys=[self.totals_key(index)], args=[self.max_entry_bytes])[0]

    def drop_live(self, index: int) -> None:
        self.redis.delete(self.live_key(index))

    def clear(self, count: int = MAX_WORKERS) -> None:
        """Delete the entries of workers ``0..count-1`` (a server starting)."""
        self.redis.delete(
            *(k for i in range(count) for k in (self.live_key(i), self.totals_key(i)))
        )

    def close(self) -> None:
        self.redis.close()


class WorkerFigures:
    """Worker ``index``'s own figures (``registry`` and its process), published to
    ``store`` every ``period_s`` by a thread (:meth:`start`, :meth:`stop`) and by
    :meth:`publish` at each scrape. Counts in ``registry`` what it rejects and fails."""

    def __init__(
        self, registry: CollectorRegistry, index: int, store: WorkerMetricsStore, period_s: float
    ):
        self.registry, self.index, self.store, self.period_s = registry, index, store, period_s
        self.ttl_s = TTL_PERIODS * period_s
        self.rejected = Counter(
            "freeagentics_metrics_entries_rejected",
            "Workers' metric entries in Redis left out of a scrape (or of a worker's "
            "totals when it started): larger than the limit, or not well formed.",
            ["reason"],
            registry=registry,
        )
        self.publish_failures = Counter(
            "freeagentics_metrics_publish_failures",
            "Times this server's API workers could not publish their metrics to Redis "
            "(unreachable, or figures larger than the limit).",
            registry=registry,
        )
        self._process = ProcessCollector(registry=None)
        #: the totals of the workers ``index`` before this one; None until read
        self._base: Families | None = None
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._fault: str | None = None  # why the latest publish failed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def own(self) -> tuple[Families, Families]:
        """This worker's live and totals families now (totals with its predecessors')."""
        live: Families = []
        counted = FamilySum()
        counted.add(self._base or [])
        mine: Families = []
        for family in families(self.registry) + families(self._process):
            (mine if is_total(family[0], family[1]) else live).append(family)
        counted.add(mine)
        return live, counted.families()

    def decoded(self, raw: Raw, index: int, *, totals: bool) -> Families | None:
        """The families of an entry :meth:`WorkerMetricsStore.read` gave; None when absent
        or rejected (counted)."""
        if raw is None:
            return None
        if isinstance(raw, int):
            self.rejected.labels("oversized" if raw > 0 else "malformed").inc()
            log.warning("worker %d's metrics entry left out: %s", index, _size_fault(raw))
            return None
        try:
            return decode_entry(raw, index, totals=totals)
        except ValueError as exc:
            self.rejected.labels("malformed").inc()
            log.warning("worker %d's metrics entry left out: %s", index, exc)
            return None

    def publish(self, *, force: bool = True) -> tuple[Families, Families, bool]:
        """Write this worker's entries (unless Redis failed less than a period ago and
        not ``force``); returns its live and totals families and whether Redis answered."""
        with self._lock:
            if not force and time.monotonic() < self._down_until:
                return (*self.own(), False)
            try:
                if self._base is None:
                    raw = self.store.read_totals(self.index)
                    self._base = self.decoded(raw, self.index, totals=True) or []
                live, totals = self.own()
                entries = encode_entry(self.index, live), encode_entry(self.index, totals)
                if max(map(len, entries)) > self.store.max_entry_bytes:
                    self._failed("oversized", f"larger than {self.store.max_entry_bytes} bytes")
                else:
                    self.store.put(self.index, *entries, self.ttl_s)
                    self._failed(None)
            except UNREACHABLE as exc:
                self._failed("unreachable", f"Redis: {exc}")
                self._down_until = time.monotonic() + self.period_s
                return (*self.own(), False)
            self._down_until = 0.0
            return live, totals, True

    def _failed(self, fault: str | None, why: str = "") -> None:
        """Count a failed publish (``fault``; None: it succeeded), logging each change."""
        if fault is not None:
            self.publish_failures.inc()
        if fault != self._fault:
            if fault is None:
                log.warning("worker %d publishes its metrics again", self.index)
            else:
                log.warning("worker %d's metrics not published: %s", self.index, why)
            self._fault = fault

    def start(self) -> None:
        """Publish now, then every period from a thread of its own."""
        self._thread = threading.Thread(target=self._run, daemon=True, name="worker-metrics")
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                self.publish()
            except Exception:  # a fault of this code: the thread carries on
                log.exception("worker %d's metrics not published", self.index)
            if self._stop.wait(self.period_s):
                return

    def stop(self) -> None:
        """Stop publishing and take this worker's live figures out of the scrapes (its
        totals stay for its successor)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(REDIS_TIMEOUT_S * 4)
        try:
            self.store.drop_live(self.index)
        except UNREACHABLE:
            pass
        self.store.close()


class WorkersCollector(Collector):
    """The whole server's figures at scrape time (see the module docstring): ``figures``
    of this worker, the other ``count - 1`` workers' from Redis, and ``host``'s (a
    :class:`~freeagentics.server.metrics.HostCollector` leaving out this process's own)."""

    def __init__(self, figures: WorkerFigures, host: Collector, count: int):
        self.figures, self.host, self.count = figures, host, count

    def _gather(self) -> tuple[Families, int, bool]:
        figures, me = self.figures, self.figures.index
        own_live, own_totals, reachable = figures.publish(force=False)
        read: list[tuple[Raw, Raw]] = []
        if reachable:
            try:
                read = figures.store.read(self.count)
            except UNREACHABLE as exc:
                log.warning("other workers' metrics not read: Redis: %s", exc)
                reachable = False
        if not reachable:
            return _labelled_own(own_live, own_totals, me), 1, False
        live, totals = {me: own_live}, {me: own_totals}
        for index, (raw_live, raw_totals) in enumerate(read):
            if index == me:
                continue
            if (fams := figures.decoded(raw_live, index, totals=False)) is not None:
                live[index] = fams
            if (fams := figures.decoded(raw_totals, index, totals=True)) is not None:
                totals[index] = fams
        merged, conflicts = merge_workers(live, totals)
        if conflicts:
            figures.rejected.labels("malformed").inc(conflicts)
        return merged, len(live), True

    def collect(self) -> Iterator[Metric]:
        merged, reporting, shared = self._gather()
        yield GaugeMetricFamily(
            "freeagentics_metrics_workers_reporting",
            "API workers whose figures this scrape holds (the answering one included).",
            value=reporting,
        )
        yield GaugeMetricFamily(
            "freeagentics_metrics_workers_configured",
            "API workers the server runs.",
            value=self.count,
        )
        yield GaugeMetricFamily(
            "freeagentics_metrics_shared_up",
            "1 when the other API workers' figures could be read from Redis, 0 when this "
            "scrape holds only the answering worker's own.",
            value=float(shared),
        )
        ours = {metric.name: metric for metric in to_metrics(merged)}
        for metric in self.host.collect():
            if metric.name in ours:  # process_*: the workers' and the host's in one family
                ours[metric.name].samples.extend(metric.samples)
            else:
                yield metric
        yield from ours.values()


def worker_metrics(
    registry: CollectorRegistry, index: int, settings: Any, host: Collector
) -> tuple[WorkerFigures, WorkersCollector]:
    """Worker ``index``'s figures for ``settings`` (``redis_url``, ``ws_redis_prefix``,
    ``workers``, ``metrics_publish_seconds``) and the collector ``/metrics`` renders."""
    store = WorkerMetricsStore(settings.redis_url, settings.ws_redis_prefix)
    figures = WorkerFigures(registry, index, store, settings.metrics_publish_seconds)
    return figures, WorkersCollector(figures, host, settings.workers)


def clear_worker_metrics(url: str, prefix: str) -> None:
    """Forget every worker's figures of the deployment ``prefix`` (a server starting:
    its sums start from zero); a warning when Redis does not answer."""
    store = WorkerMetricsStore(url, prefix)
    try:
        store.clear()
    except UNREACHABLE as exc:
        log.warning("the workers' previous metrics were not cleared: Redis: %s", exc)
    finally:
        store.close()
