"""Every API worker's ``/metrics`` shows the whole server
(:mod:`freeagentics.server.worker_metrics`): the merge rules, and the publish / read /
expire cycle on the test Redis."""

from __future__ import annotations

from collections.abc import Iterator

import msgpack
import pytest
import redis
from prometheus_client import generate_latest
from server.conftest import processes, until

from freeagentics.loadtest.server import parse_metrics
from freeagentics.server.metric_families import checked
from freeagentics.server.metrics import HostCollector, ServerMetrics, families
from freeagentics.server.worker_metrics import (
    TTL_PERIODS,
    WorkerFigures,
    WorkerMetricsStore,
    WorkersCollector,
    clear_worker_metrics,
    decode_entry,
    encode_entry,
    merge_workers,
)

ROUTE = ("GET", "/api/v1/simulations")
ERRORS = 'freeagentics_http_errors_total{method="GET",route="/api/v1/simulations",status="404"}'
COUNT = 'freeagentics_http_request_duration_seconds_count{method="GET",route="/api/v1/simulations"}'
BUCKET = (
    'freeagentics_http_request_duration_seconds_bucket{le="0.01",method="GET",'
    'route="/api/v1/simulations"}'
)


@pytest.fixture
def prefix(limits_prefix) -> str:
    """A key prefix of this test's own (its keys deleted afterwards)."""
    return limits_prefix


def _host() -> HostCollector:
    """The host's figures, as a worker asks for them: one tick, and its own process."""
    host = ServerMetrics("host")
    host.tick_seconds.observe(0.002)
    return HostCollector(lambda: families(host.registry), lambda: 1, own_process=None)


class Worker:
    """One worker's metrics (those an API worker keeps) and its view of the server."""

    def __init__(self, url: str, prefix: str, index: int, *, count: int = 2, **store):
        self.metrics = ServerMetrics("api")
        self.store = WorkerMetricsStore(url, prefix, **store)
        self.figures = WorkerFigures(self.metrics.registry, index, self.store, period_s=0.1)
        self.view = WorkersCollector(self.figures, _host(), count)

    def serve(self, requests: int, seconds: float = 0.005, errors: int = 0) -> None:
        for _ in range(requests):
            self.metrics.http_seconds.labels(*ROUTE).observe(seconds)
        for _ in range(errors):
            self.metrics.http_errors.labels(*ROUTE, "404").inc()

    def scrape(self) -> dict[str, float]:
        return parse_metrics(generate_latest(self.view).decode())

    def close(self) -> None:
        self.store.close()


@pytest.fixture
def workers(redis_url, prefix) -> Iterator[list[Worker]]:
    made = [Worker(redis_url, prefix, 0), Worker(redis_url, prefix, 1)]
    yield made
    for worker in made:
        worker.close()


# ------------------------------------------------------------------ the merge rules
def _split(metrics: ServerMetrics) -> tuple[list, list]:
    figures = WorkerFigures(metrics.registry, 0, store=None, period_s=1.0)  # type: ignore[arg-type]
    return figures.own()


def _text(merged: list) -> dict[str, float]:
    class Merged:
        def collect(self):
            from freeagentics.server.metric_families import to_metrics

            return to_metrics(merged)

    return parse_metrics(generate_latest(Merged()).decode())


def test_counters_histograms_and_connection_gauges_add_up_other_gauges_stay_per_worker():
    one, two = ServerMetrics("api"), ServerMetrics("api")
    for metrics, n, connections in ((one, 3, 5), (two, 4, 7)):
        for _ in range(n):
            metrics.http_seconds.labels(*ROUTE).observe(0.005)
            metrics.http_errors.labels(*ROUTE, "404").inc()
        metrics.ws_connections.set(connections)
        metrics.ws_queue_depth.set(connections * 2)
        metrics.ws_egress_limit.set(1000)
        metrics.messages_sent.labels("world").inc(10 * n)
        metrics.frames_skipped.labels("world").inc(n)
    (live1, totals1), (live2, totals2) = _split(one), _split(two)
    live1.append(
        ["freeagentics_shared_limits_up", "gauge", "up", [["freeagentics_shared_limits_up", {}, 1]]]
    )
    live2.append(
        ["freeagentics_shared_limits_up", "gauge", "up", [["freeagentics_shared_limits_up", {}, 0]]]
    )
    merged, conflicts = merge_workers({0: live1, 1: live2}, {0: totals1, 1: totals2})
    scraped = _text(merged)
    assert conflicts == 0
    assert scraped[COUNT] == 7 and scraped[BUCKET] == 7  # histograms added, bucket by bucket
    assert scraped[ERRORS] == 7  # counters added
    assert scraped['freeagentics_messages_sent_total{topic="world"}'] == 70
    assert scraped["freeagentics_websocket_connections"] == 12  # the server's open sockets
    assert scraped["freeagentics_websocket_queue_depth"] == 24
    assert scraped["freeagentics_websocket_egress_limit_bytes_per_second"] == 2000  # 2 budgets
    assert scraped['freeagentics_frames_skipped_total{topic="world"}'] == 7
    # a gauge whose sum means nothing: one series per worker
    assert scraped['freeagentics_shared_limits_up{worker="0"}'] == 1
    assert scraped['freeagentics_shared_limits_up{worker="1"}'] == 0
    assert "freeagentics_shared_limits_up" not in scraped
    # each worker's process by name
    assert scraped['process_resident_memory_bytes{process="api-0"}'] > 0
    assert scraped['process_resident_memory_bytes{process="api-1"}'] > 0
    assert not [k for k in scraped if k.startswith("process_") and "api-" not in k]
    created = [k for k in scraped if k.startswith("freeagentics_http_errors_created")]
    assert created and all(scraped[k] < 2e9 for k in created)  # a time, never a sum of two


def test_a_family_whose_type_differs_between_workers_is_left_out_and_counted():
    gauge = [["freeagentics_thing", "gauge", "t", [["freeagentics_thing", {}, 1]]]]
    counter = [["freeagentics_thing", "counter", "t", [["freeagentics_thing_total", {}, 5]]]]
    merged, conflicts = merge_workers({0: gauge}, {1: counter})
    assert conflicts == 1
    assert [f[1] for f in merged if f[0] == "freeagentics_thing"] == ["counter"]


def test_entries_round_trip_and_anything_else_is_refused_with_the_reason():
    live, totals = _split(ServerMetrics("api"))
    assert decode_entry(encode_entry(3, live), 3, totals=False) == checked(live)
    assert decode_entry(encode_entry(3, totals), 3, totals=True) == totals
    bad = {
        b"\xc1 not msgpack": "not MessagePack",
        msgpack.packb([1, 2]): "not a map",
        encode_entry(4, live): "names worker 4",
        encode_entry(3, totals): "does not belong",  # counters in the live entry
        encode_entry(3, [["a b", "gauge", "", []]]): "not valid",
        encode_entry(3, [["x", "gauge", "", [["x", {'a="1"} 5\nevil': "v"}, 1]]]]): "label name",
        encode_entry(3, [["x", "gauge", "", [["y", {}, 1]]]]): "not one of the family's",
        encode_entry(3, [["x", "gauge", "", [["x", {}, "1"]]]]): "not a number",
        encode_entry(3, [["x", "nonsense", "", []]]): "type",
        encode_entry(
            3, [["x", "gauge", "", [["x", {str(i): "v" for i in range(17)}, 1]]]]
        ): "at most 16",
        encode_entry(3, [[f"x{i}", "gauge", "", []] for i in range(513)]): "at most 512",
    }
    for raw, reason in bad.items():
        with pytest.raises(ValueError, match=reason):
            decode_entry(raw, 3, totals=False)


# ------------------------------------------------------------------ through Redis
def test_a_scrape_of_either_worker_shows_both_and_the_host_once(workers):
    zero, one = workers
    zero.serve(3, errors=1)
    one.serve(4, errors=2)
    zero.metrics.ws_connections.set(2)
    one.metrics.ws_connections.set(5)
    one.figures.publish()
    for worker in (zero, one):
        scraped = worker.scrape()
        assert scraped[COUNT] == 7 and scraped[ERRORS] == 3
        assert scraped["freeagentics_websocket_connections"] == 7
        assert scraped["freeagentics_metrics_workers_reporting"] == 2
        assert scraped["freeagentics_metrics_workers_configured"] == 2
        assert scraped["freeagentics_metrics_shared_up"] == 1
        assert scraped["freeagentics_tick_duration_seconds_count"] == 1  # the host's, once
        assert scraped["freeagentics_host_restarts_total"] == 1
        assert processes(scraped) == {"api-0", "api-1", "host"}


def test_sums_never_fall_whichever_worker_answers(workers):
    """Each scrape publishes the answering worker's figures before it reads the others':
    scrapes alternating between the workers see the count grow, never fall."""
    seen = []
    for round_ in range(6):
        for worker in workers:
            worker.serve(round_ + 1)
            seen.append(worker.scrape()[COUNT])
    assert seen == sorted(seen)
    assert seen[-1] == 2 * sum(range(1, 7))


def test_a_worker_that_stops_publishing_leaves_the_scrapes_but_its_counts_stay(workers):
    zero, one = workers
    zero.serve(2)
    one.serve(5)
    one.metrics.ws_connections.set(4)
    one.figures.publish()  # then never again: the worker died
    assert zero.scrape()["freeagentics_metrics_workers_reporting"] == 2
    gone = until(
        lambda: (s := zero.scrape())["freeagentics_metrics_workers_reporting"] == 1 and s,
        timeout=30,
        what=f"the silent worker's figures to expire ({TTL_PERIODS} periods)",
    )
    assert gone["freeagentics_websocket_connections"] == 0  # its sockets died with it
    assert not [k for k in gone if 'process="api-1"' in k]
    assert gone[COUNT] == 7  # the requests it served were served


def test_a_restarted_worker_counts_on_from_its_predecessor(redis_url, prefix, workers):
    zero, one = workers
    zero.serve(2)
    one.serve(5)
    one.figures.publish()
    before = zero.scrape()[COUNT]
    successor = Worker(redis_url, prefix, 1)  # worker 1 again, a new process: it counts from 0
    try:
        successor.serve(1)
        after = successor.scrape()
        assert before == 7 and after[COUNT] == 8
        assert zero.scrape()[COUNT] == 8
    finally:
        successor.close()


def test_a_thread_publishes_every_period_and_stop_takes_the_live_figures_away(
    redis_url, workers, prefix
):
    zero, one = workers
    one.metrics.ws_connections.set(3)
    one.figures.start()
    try:
        until(lambda: zero.scrape()["freeagentics_websocket_connections"] == 3, 30, "a publish")
        one.metrics.ws_connections.set(6)  # the thread publishes it; nobody scrapes worker 1
        until(lambda: zero.scrape()["freeagentics_websocket_connections"] == 6, 30, "a republish")
    finally:
        one.figures.stop()
    client = redis.Redis.from_url(redis_url)
    assert client.exists(f"{prefix}:metrics:1") == 0  # gone at once
    assert client.exists(f"{prefix}:metrics:1:totals") == 1  # kept for a successor
    client.close()
    assert zero.scrape()["freeagentics_metrics_workers_reporting"] == 1


def test_bad_entries_are_left_out_and_counted_and_the_scrape_still_answers(redis_url, prefix):
    zero = Worker(redis_url, prefix, 0, count=5, max_entry_bytes=64 * 1024)
    client = redis.Redis.from_url(redis_url)
    try:
        client.set(f"{prefix}:metrics:1", b"\xc1 garbage")
        client.set(f"{prefix}:metrics:2", b"x" * (64 * 1024 + 1))  # never read: too large
        client.hset(f"{prefix}:metrics:3", "a", "b")  # not a string at all
        client.set(f"{prefix}:metrics:4", encode_entry(1, []))  # names another worker
        client.set(f"{prefix}:metrics:4:totals", encode_entry(4, [["x y", "counter", "", []]]))
        client.set(f"{prefix}:metrics:9", encode_entry(9, []))  # beyond the workers: not read
        scraped = zero.scrape()
        assert scraped["freeagentics_metrics_workers_reporting"] == 1
        assert scraped["freeagentics_metrics_shared_up"] == 1
        scraped = zero.scrape()  # shows its figures as they were before it read
        assert scraped['freeagentics_metrics_entries_rejected_total{reason="oversized"}'] == 1
        # worker 1's live entry, 3's (a hash), 4's live (another's) and its totals
        assert scraped['freeagentics_metrics_entries_rejected_total{reason="malformed"}'] == 4
    finally:
        client.close()
        zero.close()


def test_own_figures_larger_than_the_limit_are_not_published(redis_url, prefix):
    zero = Worker(redis_url, prefix, 0, max_entry_bytes=1024)
    client = redis.Redis.from_url(redis_url)
    try:
        zero.serve(1)
        scraped = zero.scrape()
        assert scraped[COUNT] == 1  # its own figures, fresh
        assert scraped["freeagentics_metrics_publish_failures_total"] == 0  # counted after
        assert zero.scrape()["freeagentics_metrics_publish_failures_total"] == 1
        assert client.exists(f"{prefix}:metrics:0") == 0
    finally:
        client.close()
        zero.close()


def test_with_redis_away_a_worker_answers_its_own_figures_labelled_as_its(prefix):
    from freeagentics.loadtest.server import free_port

    away = f"redis://127.0.0.1:{free_port()}/0"
    zero = Worker(away, prefix, 0)
    zero.figures.period_s = 3600.0  # the next try is an hour away: scrapes meanwhile skip Redis
    try:
        zero.serve(3)
        zero.metrics.ws_connections.set(2)
        scraped = zero.scrape()
        assert scraped["freeagentics_metrics_shared_up"] == 0
        assert scraped["freeagentics_metrics_workers_reporting"] == 1
        assert scraped[COUNT.replace('"}', '",worker="0"}')] == 3
        assert scraped['freeagentics_websocket_connections{worker="0"}'] == 2
        assert COUNT not in scraped and "freeagentics_websocket_connections" not in scraped
        assert scraped['process_resident_memory_bytes{process="api-0"}'] > 0
        assert scraped["freeagentics_tick_duration_seconds_count"] == 1  # the host answers
        failures = 'freeagentics_metrics_publish_failures_total{worker="0"}'
        assert scraped[failures] == 1
        assert zero.scrape()[failures] == 1  # Redis not tried again within the period
    finally:
        zero.close()


def test_clearing_forgets_every_workers_entries(redis_url, prefix, workers):
    for worker in workers:
        worker.serve(1)
        worker.figures.publish()
    client = redis.Redis.from_url(redis_url)
    try:
        assert len(list(client.scan_iter(f"{prefix}:metrics:*"))) == 4
        clear_worker_metrics(redis_url, prefix)
        assert list(client.scan_iter(f"{prefix}:metrics:*")) == []
    finally:
        client.close()
