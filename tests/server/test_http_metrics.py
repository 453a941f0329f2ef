"""HTTP latency and errors on /metrics, by route template, with bounded labels; database
writes of the storage writers timed into freeagentics_db_write_seconds."""

from __future__ import annotations

import re
import time

API = "/api/v1"


def _samples(client, name: str) -> dict[str, float]:
    """``{label text: value}`` of the samples of ``name`` on /metrics."""
    text = client.get("/metrics").text
    return {
        labels: float(value)
        for labels, value in re.findall(rf"^{name}\{{(.*?)\}} (\S+)$", text, re.M)
    }


def test_requests_are_timed_and_errors_counted_by_route_template(client, sim):
    client.get(f"{API}/simulations/{sim}")
    client.get(f"{API}/simulations/{sim}")
    assert client.get(f"{API}/simulations/987654").status_code == 404
    counts = _samples(client, "freeagentics_http_request_duration_seconds_count")
    key = 'method="GET",route="/api/v1/simulations/{sim_id}"'
    assert counts[key] == 3.0
    errors = _samples(client, "freeagentics_http_errors_total")
    assert errors['method="GET",route="/api/v1/simulations/{sim_id}",status="404"'] == 1.0
    assert not any('status="2' in labels for labels in errors)


def test_labels_stay_bounded_whatever_the_paths_and_methods(client):
    for i in range(50):
        client.get(f"/no/such/path/{i}")
        client.request("PROPFIND", f"{API}/simulations/{i}")
    counts = _samples(client, "freeagentics_http_request_duration_seconds_count")
    routes = {re.search(r'route="([^"]*)"', k).group(1) for k in counts}
    assert "<unmatched>" in routes
    assert not any("/no/such/path" in r for r in routes)
    methods = {re.search(r'method="([^"]*)"', k).group(1) for k in counts}
    assert "PROPFIND" not in methods and "OTHER" in methods
    assert len(counts) < 10


def test_storage_writers_report_to_the_db_write_histogram(client, sim):
    """The service hands each simulation's writer the histogram (the writer's own test
    shows it reports every batch), and batches then show on /metrics."""
    metrics = client.app.state.metrics
    writer = client.app.state.service._managed(sim).writer
    assert writer._on_write_seconds == metrics.db_write_seconds.observe
    before = metrics.db_write_seconds._sum.get()
    client.post(f"{API}/simulations/{sim}/step", json={"n": 5})
    deadline = time.monotonic() + 60
    while writer.ticks_written < 5 and time.monotonic() < deadline:
        time.sleep(0.05)  # the writer thread stores the ticks shortly after
    assert writer.ticks_written >= 5 and metrics.db_write_seconds._sum.get() > before


def test_distinct_route_labels_are_capped(monkeypatch):
    from types import SimpleNamespace

    from freeagentics.server import http_metrics
    from freeagentics.server.metrics import ServerMetrics

    monkeypatch.setattr(http_metrics, "MAX_ROUTES", 3)
    middleware = http_metrics.HttpMetricsMiddleware(None, ServerMetrics())
    labels = [
        middleware._route({"route": SimpleNamespace(path_format=f"/r{i}"), "path": f"/r{i}"})
        for i in range(5)
    ]
    assert labels == ["/r0", "/r1", "<other>", "<other>", "<other>"]
    assert middleware._route({"route": SimpleNamespace(path_format="/r0"), "path": "/r0"}) == "/r0"
