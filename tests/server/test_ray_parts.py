"""The parts of simulations on Ray that need no cluster: the settings that choose it, the
failover ledger in Redis, and the merging of the actors' metrics and gauges."""

from __future__ import annotations

import importlib.util
import uuid

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from typer.testing import CliRunner

from freeagentics.cli import app as cli
from freeagentics.loadtest.server import parse_metrics
from freeagentics.server.failover import FailoverLedger, redis_prefix
from freeagentics.server.metrics import (
    FailoverCollector,
    HostCollector,
    families,
    merge_families,
    merge_gauges,
)
from freeagentics.server.settings import Settings

PG = "postgresql+psycopg://u@db/freeagentics"


def test_a_ray_address_chooses_ray_which_needs_postgresql_and_redis():
    chosen = Settings(ray_address="auto", database_url=PG, redis_url="redis://r:6379/0")
    assert chosen.simulation_host == "ray"
    with pytest.raises(ValueError, match="simulations on Ray need PostgreSQL"):
        Settings(ray_address="auto", redis_url="redis://r")  # the default SQLite file
    with pytest.raises(ValueError, match=r"need PostgreSQL.*not sqlite"):
        Settings(ray_address="auto", database_url="sqlite:///x.db", redis_url="redis://r")
    with pytest.raises(ValueError, match="simulations on Ray need Redis"):
        Settings(ray_address="auto", database_url=PG)
    with pytest.raises(ValueError, match="needs ray_address"):
        Settings(simulation_host="ray", database_url=PG, redis_url="redis://r")
    with pytest.raises(ValueError, match="ray_address is set but simulation_host is 'inline'"):
        Settings(simulation_host="inline", ray_address="auto")
    with pytest.raises(ValueError, match="ray_namespace"):
        Settings(ray_address="auto", database_url=PG, redis_url="redis://r", ray_namespace="a b")


def test_ray_without_its_extra_is_refused_naming_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a)
    )
    with pytest.raises(
        ValueError, match=r"need the 'ray' extra: pip install 'freeagentics\[ray\]'"
    ):
        Settings(ray_address="auto", database_url=PG, redis_url="redis://r:6379/0")


def test_serve_with_ray_on_sqlite_stops_at_once_and_says_why(monkeypatch, tmp_path):
    monkeypatch.setenv("FREEAGENTICS_DATA_DIR", str(tmp_path))
    for name in ("FREEAGENTICS_DATABASE_URL", "FREEAGENTICS_SIMULATION_HOST"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(cli, ["serve", "--ray", "127.0.0.1:6379"])
    assert result.exit_code != 0
    assert "simulations on Ray need PostgreSQL" in result.output
    assert not (tmp_path / "freeagentics.db").exists()  # nothing was started


def test_the_ledger_counts_failovers_per_simulation_and_in_total(redis_url):
    prefix = f"fa-test-{uuid.uuid4().hex[:8]}"
    ledger = FailoverLedger(redis_url, prefix)
    try:
        assert ledger.totals() == (0, 0) and ledger.of(7) == 0
        assert ledger.record(7, 4) == 1
        assert ledger.record(7, 9) == 2
        assert ledger.record(8, -3) == 1  # a negative loss counts as none
        assert (ledger.of(7), ledger.of(8)) == (2, 1)
        assert ledger.totals() == (3, 13)
        ledger.forget(7)  # deleted: its field goes, the totals stay
        assert ledger.of(7) == 0 and ledger.totals() == (3, 13)
        # what a second process (another API worker) reads
        assert FailoverLedger(redis_url, prefix).totals() == (3, 13)
    finally:
        keys = list(ledger.redis.scan_iter(f"{prefix}:*"))
        assert len(keys) == 3  # two totals and one hash: nothing grows per tick or call
        ledger.redis.delete(*keys)
        ledger.close()
    assert redis_prefix("ns") == "freeagentics:ns"


def _host_families(agents: int, ticks: int, last_write: float) -> list:
    registry = CollectorRegistry()
    Gauge("freeagentics_agents", "a", ["kind"], registry=registry).labels("explorer").set(agents)
    Gauge("freeagentics_db_last_batch_write_seconds", "w", registry=registry).set(last_write)
    hist = Histogram("freeagentics_tick_duration_seconds", "t", buckets=(0.1,), registry=registry)
    for _ in range(ticks):
        hist.observe(0.05)
    Counter("freeagentics_restore_ticks_lost", "l", registry=registry).inc(ticks)
    Gauge("process_resident_memory_bytes", "rss", registry=registry).set(1000 + agents)
    return families(registry)


def test_the_actors_metrics_merge_into_one_hosts():
    merged = merge_families({3: _host_families(4, 2, 0.5), 5: _host_families(6, 3, 0.2)})
    registry = CollectorRegistry()
    registry.register(HostCollector(lambda: merged, lambda: 2))
    registry.register(FailoverCollector(lambda: (2, 11)))
    scraped = parse_metrics(generate_latest(registry).decode())
    assert scraped['freeagentics_agents{kind="explorer"}'] == 10  # added
    assert scraped["freeagentics_db_last_batch_write_seconds"] == 0.5  # the largest
    assert scraped["freeagentics_tick_duration_seconds_count"] == 5
    assert scraped['freeagentics_tick_duration_seconds_bucket{le="0.1"}'] == 5
    assert scraped["freeagentics_restore_ticks_lost_total"] == 5
    # each actor's process, by name, beside the API's own
    assert scraped['process_resident_memory_bytes{process="sim-3"}'] == 1004
    assert scraped['process_resident_memory_bytes{process="sim-5"}'] == 1006
    assert scraped["freeagentics_host_restarts_total"] == 2
    assert scraped["freeagentics_simulation_failovers_total"] == 2
    assert scraped["freeagentics_simulation_ticks_lost_total"] == 11
    created = [k for k in scraped if k.startswith("freeagentics_restore_ticks_lost_created")]
    assert created and all(scraped[k] < 2e9 for k in created)  # a time, never a sum of two


def test_failover_counters_are_left_out_when_redis_does_not_answer():
    def unreachable() -> tuple[int, int]:
        raise ConnectionError("redis is away")

    registry = CollectorRegistry()
    registry.register(FailoverCollector(unreachable))
    assert "failovers" not in generate_latest(registry).decode()


def test_the_actors_gauges_merge_into_one_services():
    one = {
        "agents_by_kind": {"explorer": 3},
        "queues": {"storage_writer": 1, "event_subscribers": 0},
        "last_write_seconds": 0.1,
        "activity": {1: {"moving_fraction": 0.5}},
    }
    two = {
        "agents_by_kind": {"explorer": 2, "collector": 1},
        "queues": {"storage_writer": 2, "event_subscribers": 4},
        "last_write_seconds": 0.3,
        "activity": {2: {"moving_fraction": 0.25}},
    }
    assert merge_gauges({1: one, 2: two}) == {
        "agents_by_kind": {"explorer": 5, "collector": 1},
        "queues": {"storage_writer": 3, "event_subscribers": 4},
        "last_write_seconds": 0.3,
        "activity": {1: {"moving_fraction": 0.5}, 2: {"moving_fraction": 0.25}},
    }
    assert merge_gauges({})["agents_by_kind"] == {}
