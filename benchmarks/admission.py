"""Admission cost: what a request's or a WebSocket's admission checks cost with the
budgets in this process (``memory``, one worker) and in Redis (``redis``, shared by every
worker), measured in the same run.

Cases, each through the server's :class:`~freeagentics.server.gate.Gate`:

* ``request-anonymous``: a request without credentials (one bucket: the address's);
* ``request-key``: a request with a valid API key (a failure held while the key is
  checked, then given back and the key's request spent: two calls to the store);
* ``websocket``: a WebSocket admitted (handshake and open-connection budgets) and closed.

``--concurrency`` tasks (each its own client address) share one gate on one event loop
(uvloop where installed, as ``serve`` runs); a round makes ``--calls`` checks, and the
figure is the round's wall time per check (its inverse: checks per second), the median of
``--rounds`` rounds. With one task this is the latency a check adds to a request.

Prints a table and, with ``--json``, writes records ``{"benchmark": "admission", "case",
"impl": "memory" | "redis", "n": concurrency, "latency_us_median", "checks_per_s",
"ratio_to_memory", "errors"}``. Redis is ``--redis-url`` (default
``$FREEAGENTICS_TEST_REDIS_URL``, else ``redis://127.0.0.1:6379/0``); its keys carry a
prefix of this run's own and are deleted at the end.

Usage::

    python benchmarks/admission.py [--json out.json]
    python benchmarks/admission.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import fmt_number, fmt_ratio, machine_info, print_table, write_json
from freeagentics.server.gate import RateLimited, make_gate
from freeagentics.server.settings import Settings

CASES = ("request-anonymous", "request-key", "websocket")
KEY = "benchmark-key-0123456789"
LOTS = 10**9  # budgets nothing in a round can spend


def _settings(redis_url: str | None, prefix: str) -> Settings:
    return Settings(
        mode="production",
        secret_key="benchmark-secret-that-is-long-enough-0123456789",
        api_keys={KEY: "viewer"},
        rate_limit_per_minute=LOTS,
        auth_failures_per_minute=LOTS,
        ws_connects_per_minute=LOTS,
        ws_connections_per_address=LOTS,
        redis_url=redis_url,
        shared_limits_prefix=prefix,
    )


async def _round(gate, case: str, calls: int, concurrency: int) -> tuple[float, int]:
    """Wall seconds per check over ``calls`` checks from ``concurrency`` tasks; errors."""
    per_task = max(1, calls // concurrency)
    errors = 0

    async def task(i: int) -> None:
        nonlocal errors
        address = f"10.{i // 250}.{i % 250}.1"
        for _ in range(per_task):
            try:
                if case == "websocket":
                    await gate.close_websocket(await gate.open_websocket(address))
                else:
                    await gate.admit_request(address, None, KEY if case == "request-key" else None)
            except RateLimited:
                errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(task(i) for i in range(concurrency)))
    return (time.perf_counter() - start) / (per_task * concurrency), errors


async def _measure(impl: str, settings: Settings, args) -> list[dict[str, Any]]:
    gate = make_gate(settings)
    await gate.start()
    records = []
    try:
        for case in CASES:
            for n in args.concurrency:
                await _round(gate, case, max(n, args.calls // 10), n)  # warm-up
                rounds = [await _round(gate, case, args.calls, n) for _ in range(args.rounds)]
                per_check = statistics.median(r[0] for r in rounds)
                fallbacks = getattr(gate.budgets, "fallbacks", 0)
                records.append(
                    {
                        "benchmark": "admission",
                        "case": case,
                        "impl": impl,
                        "n": n,
                        "latency_us_median": per_check * 1e6,
                        "checks_per_s": 1.0 / per_check,
                        "errors": sum(r[1] for r in rounds) + fallbacks,
                    }
                )
    finally:
        await gate.aclose()
    return records


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=4000, help="checks per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 64])
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("FREEAGENTICS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
    )
    parser.add_argument("--quick", action="store_true", help="400 checks, 3 rounds")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.rounds, args.concurrency = 400, 3, [1, 8]
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    prefix = f"freeagentics-bench-{uuid.uuid4().hex[:8]}"
    records = asyncio.run(_measure("memory", _settings(None, prefix), args))
    raw = redis.Redis.from_url(args.redis_url, socket_connect_timeout=2)
    try:
        raw.ping()
    except redis.RedisError as exc:
        print(f"redis: {args.redis_url} unreachable ({exc}); measured in memory only")
    else:
        records += asyncio.run(_measure("redis", _settings(args.redis_url, prefix), args))
        for key in raw.scan_iter(f"{prefix}:*"):
            raw.delete(key)
    raw.close()

    memory = {(r["case"], r["n"]): r["latency_us_median"] for r in records if r["impl"] == "memory"}
    rows = [
        [case, str(n), f"{fmt_number(us)} µs", "-", "-", "-", "0"]
        for (case, n), us in memory.items()
        if not any(r["impl"] == "redis" for r in records)
    ]
    for r in records:
        r["ratio_to_memory"] = r["latency_us_median"] / memory[r["case"], r["n"]]
        r.update(machine_info())
        if r["impl"] == "redis":
            base = memory[r["case"], r["n"]]
            rows.append(
                [
                    r["case"],
                    str(r["n"]),
                    f"{fmt_number(base)} µs",
                    f"{fmt_number(r['latency_us_median'])} µs",
                    fmt_ratio(r["ratio_to_memory"]),
                    fmt_number(r["checks_per_s"]),
                    str(r["errors"]),
                ]
            )
    columns = ["case", "tasks", "memory", "redis", "ratio", "redis checks/s", "errors"]
    print_table("admission: time per check (median of rounds)", columns, rows)
    if args.json:
        write_json(args.json, records)
    return records


if __name__ == "__main__":
    main()
