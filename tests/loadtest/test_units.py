"""The load test's parts that need no server: histogram, profiles, thresholds, users' bounds."""

from __future__ import annotations

import asyncio
import json

import pytest

from freeagentics.loadtest.histogram import LatencyRecord, bucket_bounds, bucket_of, percentile
from freeagentics.loadtest.profiles import PROFILES, load_profile_file, resolve_profiles
from freeagentics.loadtest.report import judged_p95
from freeagentics.loadtest.thresholds import THRESHOLDS, evaluate, status_band
from freeagentics.loadtest.users import (
    MAX_PINGS_WAITING,
    STALE_S,
    _Link,
    _State,
    _Users,
    count_unanswered,
)


def test_percentiles_are_exact_nearest_rank():
    rec = LatencyRecord(float(v) for v in range(1, 101))  # 1..100 ms
    s = rec.summary()
    assert (s["p50"], s["p95"], s["p99"], s["max"], s["count"]) == (50.0, 95.0, 99.0, 100.0, 100)
    assert s["avg"] == pytest.approx(50.5)
    assert percentile([], 50) is None


def test_buckets_hold_their_samples_and_merge_by_addition():
    a, b = LatencyRecord([0.5, 1.0, 12.0]), LatencyRecord([12.1, 900.0])
    merged = a.merge(b)
    counts = merged.buckets()
    assert sum(counts.values()) == 5
    for value in merged.samples:
        lo, hi = bucket_bounds(bucket_of(value))
        assert lo <= value < hi
    for k, v in a.buckets().items():
        assert counts[k] >= v
    assert LatencyRecord.from_json(json.loads(json.dumps(merged.to_json()))).samples == (
        merged.samples
    )


def test_the_six_profiles_of_b6():
    expected = {
        "light": (10, 50),
        "medium": (30, 200),
        "heavy": (50, 500),
        "stress": (100, 1000),
        "large": (10_000, 5_000),
        "colossal": (100_000, 10_000),
    }
    assert {n: (p.agents, p.users) for n, p in PROFILES.items()} == expected


def test_custom_profiles_from_flags_and_file(tmp_path):
    (p,) = resolve_profiles(["custom"], agents=7, users=3, duration_s=4, soak=True)
    assert (p.name, p.agents, p.users, p.duration_s, p.soak) == ("custom", 7, 3, 4, True)
    path = tmp_path / "p.toml"
    path.write_text('[[profile]]\nname = "a"\nagents = 2\nusers = 5\nthink_s = 0.5\n')
    (q,) = load_profile_file(path)
    assert (q.name, q.agents, q.users, q.think_s) == ("a", 2, 5, 0.5)
    path.write_text("[[profile]]\nagents = 2\nusers = 5\nthinktime = 1\n")
    with pytest.raises(ValueError, match="unknown profile keys"):
        load_profile_file(path)
    with pytest.raises(ValueError, match="needs --agents"):
        resolve_profiles(["custom"])


def test_a_kind_of_round_trip_that_never_completed_fails_the_band():
    assert judged_p95({"p95": 20.0}, {"p95": 40.0}) == 40.0
    assert judged_p95({"p95": None, "count": 0}, {"p95": 40.0}) is None
    assert judged_p95({"p95": 20.0}, {}) is None
    assert status_band(judged_p95({}, {"p95": 1.0}), 0.0) == "failure"


def test_status_bands():
    assert status_band(99.9, 0.0) == "optimal"
    assert status_band(100.0, 0.0) == "acceptable"
    assert status_band(1500.0, 0.0) == "severe"
    assert status_band(2500.0, 0.0) == "failure"
    assert status_band(10.0, 5.0) == "failure"
    assert status_band(None, 0.0) == "failure"


def test_thresholds_are_the_reports_and_evaluate_levels():
    got = {k: (t.alert, t.critical) for k, t in THRESHOLDS.items()}
    assert got == {
        "cpu": (80, 95),
        "memory": (70, 85),
        "response": (500, 1000),
        "errors": (1, 5),
    }
    rows = {r["key"]: r["level"] for r in evaluate({"cpu": 81, "memory": 90, "errors": 0.5})}
    assert rows == {"cpu": "alert", "memory": "critical", "response": "n/a", "errors": "ok"}


def test_round_trips_and_rest_calls_left_waiting_count_as_unanswered_errors():
    st = _State({})
    now = 1000.0
    st.pending = {1: ("ping", now - STALE_S - 1, None), 2: ("command", now - 1, None)}
    st.rest_in_flight = {3: now - STALE_S - 5, 4: now - STALE_S - 2, 5: now - 0.5}
    count_unanswered(st, now)
    assert st.errors == {"unanswered": 1, "rest_unanswered": 2}
    st.pending, st.rest_in_flight = {}, {}
    count_unanswered(st, now)  # nothing waiting: nothing added
    assert st.errors == {"unanswered": 1, "rest_unanswered": 2}


class _Conn:
    """A connection that takes every frame and never answers."""

    closed = False

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, payload: bytes) -> None:
        self.sent.append(payload)


def test_a_user_keeps_a_bounded_number_of_pings_waiting():
    spec = {"ping_interval_s": 1.0, "think_s": 1.0, "command_users": 1, "tick_rate_hz": 10.0}

    async def run() -> tuple[_State, _Link, _Conn]:
        st = _State({**spec, "sim_id": 1})
        st.counting = True
        users = _Users(st, pool=None, requests={})  # type: ignore[arg-type]
        link, conn = _Link(st), _Conn()
        link.conn = conn  # type: ignore[assignment]
        for _ in range(MAX_PINGS_WAITING + 5):
            users.ping(link)
        first = json.loads(conn.sent[0])["id"]
        link.on_text(json.dumps({"type": "pong", "id": first}).encode())  # one answered
        users.ping(link)
        st.stopping = True
        return st, link, conn

    st, link, conn = asyncio.run(run())
    assert len(conn.sent) == MAX_PINGS_WAITING + 1  # the answer made room for one more
    assert st.errors == {"ws_ping_backlog": 5}
    assert link.pings == len(st.pending) == MAX_PINGS_WAITING
    assert st.records["ws_ping"].summary()["count"] == 1
