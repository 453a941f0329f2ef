"""benchmarks/scaleout.py (B8): the sharded tick on a real local cluster at a tiny size,
and the projection's arithmetic."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks._failover import DEFAULT_PG
from benchmarks.scaleout import FORMULA, projected_tick, projection_constants

ROOT = Path(__file__).resolve().parents[2]


def bench(*args, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "benchmarks/scaleout.py", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _shard_record(impl: str, **figures) -> dict:
    return {"benchmark": "B8", "case": "shard-tick", "impl": impl, "n": 1000, **figures}


def test_the_projection_follows_its_formula_from_the_measured_constants():
    records = [
        _shard_record(
            "freeagentics-1-shard",
            tick_s_median=1.0,
            shard_compute_s_median=0.5,
            comm_s_median=0.1,
            bytes_out_per_tick_median=17_000,
            bytes_in_per_tick_median=17_000,
        ),
        _shard_record(
            "freeagentics-2-shards",
            tick_s_median=0.8,
            coordinator_s_median=0.2,
            round_trip_s=0.001,
            coordinator_bytes_per_agent=500.0,
            shard_state_bytes=[600_000, 400_000],
            shard_rows=[500, 500],
        ),
    ]
    k = projection_constants(records)
    assert k["w"] == pytest.approx(2e-4) and k["c"] == pytest.approx(5e-4)
    assert k["t"] == pytest.approx(1e-4) and k["L"] == 0.001
    assert k["shard_bytes_per_agent"] == pytest.approx(1000.0)
    assert k["bytes_per_agent_per_tick"] == pytest.approx(34.0)
    # T(N, M) = w·N + c·N/M + t·N + 2·L·M
    assert projected_tick(k, 10_000, 4) == pytest.approx(2.0 + 1.25 + 1.0 + 0.008)
    assert "c·N/M" in FORMULA
    with pytest.raises(ValueError, match="no measurement: boom"):
        projection_constants([records[0], _shard_record("freeagentics-2-shards", error="boom")])


def test_the_projection_alone_needs_part_b_records():
    run = bench("--part", "d", timeout=60)
    assert run.returncode != 0 and "needs part b's records" in run.stderr


def test_bad_arguments_are_refused():
    run = bench("--n", 5, timeout=60)
    assert run.returncode == 2 and "--n must be >= 10" in run.stderr
    run = bench("--part", "c", "--failover-every", 1, timeout=60)
    assert run.returncode == 2 and "--failover-every must be >= 2" in run.stderr
    run = bench("--part", "c", "--failover-node-cpus", 0, timeout=60)
    assert run.returncode == 2 and "--failover-node-cpus must be >= 1" in run.stderr


@pytest.mark.slow
def test_b8_shard_tick_and_projection_records(tmp_path, ray_cluster):
    out = tmp_path / "b8.json"
    run = bench(
        "--quick",
        *("--part", "b", "d"),  # (c) kills nodes: it starts a cluster of its own
        *("--n", 3000, "--ticks", 2, "--address", ray_cluster.address, "--json", out),
    )
    assert run.returncode == 0, run.stderr[-3000:]
    records = json.loads(out.read_text())
    ticks = [r for r in records if r["case"] == "shard-tick"]
    assert [r["impl"] for r in ticks] == [
        "freeagentics",
        "freeagentics-1-shard",
        "freeagentics-2-shards",
    ]
    for r in ticks:
        assert r["benchmark"] == "B8" and r["n"] == 3000 and r["ticks"] == 2
        assert 0 < r["tick_s_median"] <= r["tick_s_p95"]
        assert r["ratio_to_one_process"] > 0
    assert ticks[0]["ratio_to_one_process"] == 1.0
    for r in ticks[1:]:
        # 17 bytes out and one back per agent for the moves; 16 back for the metrics
        assert r["bytes_out_per_tick_median"] == 17 * 3000
        assert r["bytes_in_per_tick_median"] == 17 * 3000
        assert r["comm_s_median"] >= 0 and r["shard_compute_s_median"] > 0
        assert sum(r["shard_rows"]) == 3000
    projected = [r for r in records if r["case"] == "projection-10m"]
    assert [r["machines"] for r in projected] == [1, 2, 4, 8, 16]
    for r in projected:
        assert r["n"] == 10_000_000
        assert r["tick_s_projected"] == pytest.approx(
            projected_tick(r["constants"], 10_000_000, r["machines"])
        )
    assert "B8 (b)" in run.stdout and "B8 (d)" in run.stdout and FORMULA in run.stdout


def test_the_lean_http_client_delimits_responses_split_anywhere():
    import asyncio

    from benchmarks._http_worker import Connection, Counters

    class Transport:
        def __init__(self):
            self.written: list[bytes] = []

        def write(self, data: bytes) -> None:
            self.written.append(data)

        def close(self) -> None:
            self.written.append(b"<closed>")

    async def main():
        counters = Counters()
        conn = Connection(b"GET / HTTP/1.1\r\n\r\n", counters)
        transport = Transport()
        conn.connection_made(transport)
        counters.counting = True
        ok = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-FreeAgentics-Worker: 1\r\n\r\nhello"
        bad = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 2\r\n\r\nno"
        stream = ok + bad + ok
        for i in range(0, len(stream), 7):  # pieces that cut heads, lengths and bodies
            conn.data_received(stream[i : i + 7])
        chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        conn.data_received(chunked)
        return counters, transport

    counters, transport = asyncio.run(main())
    assert counters.requests == 2 and counters.by_worker == {"1": 2}
    assert counters.errors == 2  # the 503, and a response without a length
    assert transport.written[:4] == [b"GET / HTTP/1.1\r\n\r\n"] * 4  # one per whole response
    assert transport.written[-1] == b"<closed>"


def _services() -> tuple[str, str]:
    """PostgreSQL and Redis for part a, or a skip (a failure where they are required)."""
    import os

    import redis
    import sqlalchemy as sa

    pg = os.environ.get("FREEAGENTICS_TEST_POSTGRES_URL", DEFAULT_PG)
    url = os.environ.get("FREEAGENTICS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        engine = sa.create_engine(pg)
        with engine.connect():
            pass
        engine.dispose()
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except (sa.exc.OperationalError, redis.RedisError) as exc:
        if os.environ.get("FREEAGENTICS_REQUIRE_SERVICES") == "1":
            pytest.fail(f"part a needs PostgreSQL and Redis: {exc}")
        pytest.skip(f"part a needs PostgreSQL and Redis: {exc}")
    return pg, url


@pytest.mark.slow
def test_b8_api_workers_records(tmp_path):
    pg, redis_url = _services()
    out = tmp_path / "b8a.json"
    run = bench(
        *("--part", "a", "--quick", "--connections", 20, "--pingers", 4),
        *("--loads", "rest-host", "websocket"),
        *("--http-connections", 4, "--duration", 1.5, "--agents", 20),
        *("--database-url", pg, "--redis-url", redis_url, "--json", out),
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    records = json.loads(out.read_text())
    assert [(r["n"], r["load"]) for r in records] == [
        (n, load) for n in (1, 2) for load in ("rest-host", "websocket")
    ]
    for r in records:
        assert r["benchmark"] == "B8" and r["case"] == "api-workers" and r["errors"] == 0
        # the clients' own processes were measured (a lean one may use under a clock tick)
        assert r["client_processes"] == 1 and r["client_cpu_percent"] >= 0
        assert r["server_cpu_percent"] > 0 and r["machine_cpu_percent"] > 0
        rate = r.get("messages_per_s") or r["requests_per_s"]
        assert r["per_server_cpu_s"] == pytest.approx(rate / (r["server_cpu_percent"] / 100))
        if r["load"] == "websocket":
            assert r["messages_per_s"] > 0 and r["connected"] == 20 and r["pings"] > 0
        else:
            assert r["requests_per_s"] > 0 and r["latency_ms_p95"] >= r["latency_ms_p50"]
            # one worker sends no worker header; two say which of them answered
            assert set(r["by_worker"]) <= ({"-"} if r["n"] == 1 else {"0", "1"})
        if r["n"] == 2:
            key = "messages_per_s" if r["load"] == "websocket" else "requests_per_s"
            one = next(o for o in records if (o["n"], o["load"]) == (1, r["load"]))
            assert r["ratio_to_one_worker"] == pytest.approx(r[key] / one[key])
    assert "B8 (a)" in run.stdout
