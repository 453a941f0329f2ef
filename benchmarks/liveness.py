"""Liveness under load: ``/health/live`` latency while a large simulation steps and
viewers read and subscribe.

Starts the server (``create_app`` under uvicorn as ``serve`` runs it, SQLite in a
temporary folder, no demo), creates an ``--agents`` simulation of the demo scenario and
has an operator step it ``--ticks`` ticks through ``POST /step`` (chunks of
``--chunk``). Meanwhile:

* ``--viewers`` threads read in a loop: the summary, a page of agents, one agent's
  detail, the coalitions and the world, ``--think-ms`` apart (0: back to back);
* ``--subscribers`` WebSocket clients subscribe to the world and one agent (MessagePack
  frames), wait for a frame, unsubscribe, and start again (each subscribe is timed to
  its ack, which may queue behind the frames the client has not read yet); they offer
  permessage-deflate as browsers do, unless ``--no-deflate``;
* a prober asks ``/health/live`` every ``--probe-ms`` milliseconds, from a process of
  its own (so that the load generators' threads do not delay its own measurements).

Prints p50/p99/max of each stream (target: ``/health/live`` p99 <= 100 ms) and, with
``--json``, writes records ``{"benchmark": "liveness", "case": "health-live" |
"rest-read" | "ws-subscribe", "impl": "freeagentics", "n": agents, "latency_ms_p50",
"latency_ms_p99", "latency_ms_max", "errors", ...}``.

Usage::

    python benchmarks/liveness.py [--agents 10000] [--ticks 300] [--json out.json]
    python benchmarks/liveness.py --quick      # 2 000 agents, 60 ticks
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
from websockets.sync.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import machine_info, print_table, write_json
from freeagentics.loadtest.server import ServerProcess

API = "/api/v1"
#: a request that has not answered by then counts as an error (and as this latency)
TIMEOUT_S = 60.0


class Stream:
    """Latencies (seconds) and errors of one kind of request, appended from many threads."""

    def __init__(self, name: str):
        self.name = name
        self.latencies: list[float] = []
        self.errors = 0
        self._lock = threading.Lock()

    def timed(self, work) -> Any:
        start = time.perf_counter()
        try:
            result = work()
        except Exception:
            with self._lock:
                self.errors += 1
                self.latencies.append(time.perf_counter() - start)
            return None
        with self._lock:
            self.latencies.append(time.perf_counter() - start)
        return result

    def summary(self) -> dict[str, float]:
        ms = np.array(self.latencies or [np.nan]) * 1e3
        return {
            "count": len(self.latencies),
            "latency_ms_p50": float(np.percentile(ms, 50)),
            "latency_ms_p99": float(np.percentile(ms, 99)),
            "latency_ms_max": float(ms.max()),
            "errors": self.errors,
        }


def _ok(response: httpx.Response) -> httpx.Response:
    response.raise_for_status()
    return response


def step(base: str, sim_id: int, ticks: int, chunk: int, done: threading.Event) -> float:
    """Step ``ticks`` ticks in chunks; returns the seconds it took."""
    start = time.perf_counter()
    with httpx.Client(base_url=base, timeout=None) as http:
        left = ticks
        while left > 0:
            n = min(chunk, left)
            _ok(http.post(f"{API}/simulations/{sim_id}/step", json={"n": n}))
            left -= n
    done.set()
    return time.perf_counter() - start


def probe(base: str, interval: float, stop, results) -> None:
    """In its own process: time ``/health/live`` until ``stop`` is set; send the stream."""
    stream = Stream("health-live")
    with httpx.Client(base_url=base, timeout=TIMEOUT_S) as http:
        while not stop.is_set():
            stream.timed(lambda: _ok(http.get(f"{API}/health/live")))
            stop.wait(interval)
    results.put((stream.latencies, stream.errors))


def view(
    base: str, sim_id: int, agents: int, think: float, done: threading.Event, stream: Stream
) -> None:
    rng = random.Random(sim_id)
    url = f"{API}/simulations/{sim_id}"
    with httpx.Client(base_url=base, timeout=TIMEOUT_S) as http:
        while not done.is_set():
            for path in (
                url,
                f"{url}/agents?limit=100&offset={rng.randrange(max(1, agents - 100))}",
                f"{url}/agents/{rng.randrange(agents)}?history=8",
                f"{url}/coalitions",
                f"{url}/world",
            ):
                stream.timed(lambda path=path: _ok(http.get(path)))
                done.wait(think)


def subscribe(
    ws_url: str,
    sim_id: int,
    agents: int,
    think: float,
    deflate: bool,
    done: threading.Event,
    stream: Stream,
) -> None:
    rng = random.Random(-sim_id)
    compression = "deflate" if deflate else None
    with connect(ws_url, open_timeout=TIMEOUT_S, max_size=None, compression=compression) as ws:
        while not done.is_set():
            agent = rng.randrange(agents)
            topics = [("world", None), ("agent", agent)]
            for i, (topic, agent_id) in enumerate(topics):
                message = {
                    "type": "subscribe",
                    "id": i,
                    "topic": topic,
                    "sim_id": sim_id,
                    "format": "msgpack",  # binary frames: skipped below without decoding
                }
                if agent_id is not None:
                    message["agent_id"] = agent_id

                def ask(message=message) -> None:
                    ws.send(orjson.dumps(message).decode())
                    while True:  # frames of earlier subscriptions may come first
                        data = ws.recv(timeout=TIMEOUT_S)
                        if isinstance(data, bytes):
                            continue  # a frame
                        reply = orjson.loads(data)
                        if reply.get("type") == "ack" and reply.get("id") == message["id"]:
                            if not reply["ok"]:
                                raise RuntimeError(reply["error"])
                            return

                stream.timed(ask)
                done.wait(think)
            try:
                ws.recv(timeout=1.0)  # a frame, when the simulation ticks meanwhile
            except TimeoutError:
                pass
            for i, (topic, agent_id) in enumerate(topics):
                message = {"type": "unsubscribe", "id": 10 + i, "topic": topic, "sim_id": sim_id}
                if agent_id is not None:
                    message["agent_id"] = agent_id
                ws.send(orjson.dumps(message).decode())


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    live, reads, subs = Stream("health-live"), Stream("rest-read"), Stream("ws-subscribe")
    spawn = multiprocessing.get_context("spawn")
    with ServerProcess() as server:
        created = server.create_simulation(args.agents, "liveness")
        sim_id = created["id"]
        done, stop, results = threading.Event(), spawn.Event(), spawn.Queue()
        prober = spawn.Process(
            target=probe, args=(server.base, args.probe_ms / 1e3, stop, results), daemon=True
        )
        prober.start()
        think = args.think_ms / 1e3
        threads = [
            threading.Thread(
                target=view, args=(server.base, sim_id, args.agents, think, done, reads)
            )
            for _ in range(args.viewers)
        ]
        threads += [
            threading.Thread(
                target=subscribe,
                args=(server.ws_url, sim_id, args.agents, think, args.deflate, done, subs),
            )
            for _ in range(args.subscribers)
        ]
        for thread in threads:
            thread.start()
        try:
            seconds = step(server.base, sim_id, args.ticks, args.chunk, done)
        finally:
            done.set()
            stop.set()
            for thread in threads:
                thread.join(TIMEOUT_S + 5)
            live.latencies, live.errors = results.get(timeout=TIMEOUT_S + 5)
            prober.join(TIMEOUT_S)
        tick = server.simulation(sim_id)["tick"]
    base = {
        "benchmark": "liveness",
        "impl": "freeagentics",
        "n": args.agents,
        "ticks": tick,
        "step_seconds": seconds,
        "viewers": args.viewers,
        "subscribers": args.subscribers,
        "think_ms": args.think_ms,
        "deflate": args.deflate,
        "machine": machine_info(),
    }
    return [{**base, "case": s.name, **s.summary()} for s in (live, reads, subs)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--chunk", type=int, default=25, help="ticks per step request")
    parser.add_argument("--viewers", type=int, default=8)
    parser.add_argument("--subscribers", type=int, default=8)
    parser.add_argument("--probe-ms", type=float, default=50.0)
    parser.add_argument(
        "--think-ms", type=float, default=100.0, help="pause of each viewer between requests"
    )
    parser.add_argument(
        "--no-deflate",
        dest="deflate",
        action="store_false",
        help="subscribers do not offer permessage-deflate (browsers do)",
    )
    parser.add_argument("--quick", action="store_true", help="2 000 agents, 60 ticks")
    parser.add_argument("--json", help="write the records here")
    args = parser.parse_args(argv)
    if args.quick:
        args.agents, args.ticks = 2_000, 60
    records = run(args)
    rows = [
        [
            r["case"],
            str(r["count"]),
            f"{r['latency_ms_p50']:.1f}",
            f"{r['latency_ms_p99']:.1f}",
            f"{r['latency_ms_max']:.1f}",
            str(r["errors"]),
            "target p99 <= 100 ms" if r["case"] == "health-live" else "",
        ]
        for r in records
    ]
    first = records[0]
    title = (
        f"Liveness: {first['n']} agents, {first['ticks']} ticks stepped in "
        f"{first['step_seconds']:.1f} s, {args.viewers} viewers, {args.subscribers} subscribers"
        f" ({'deflate' if args.deflate else 'uncompressed'})"
    )
    print_table(title, ["stream", "requests", "p50 ms", "p99 ms", "max ms", "errors", ""], rows)
    if args.json:
        write_json(args.json, records)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
