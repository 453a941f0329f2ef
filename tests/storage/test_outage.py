"""The database goes away mid-run: the simulation keeps stepping, the writer retries, and
once the database is back every accepted tick is stored exactly once.

Always: a TCP proxy between the writer and the real PostgreSQL is cut and restored.
With ``FREEAGENTICS_ALLOW_PG_RESTART=1`` (CI): the PostgreSQL cluster itself is stopped
and started again.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time

import numpy as np
import pytest
import sqlalchemy as sa

from freeagentics.simulation import Simulation, SimulationConfig
from freeagentics.storage import StorageWriter, agents, create_engine_for, metrics, simulations


class Proxy:
    """Forwards TCP connections to ``target``; :meth:`cut` drops them all until :meth:`restore`."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._up = True
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._up:
                client.close()  # refuse: like a server that is down
                continue
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._open |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                self._close(s)

    def _close(self, s: socket.socket) -> None:
        with self._lock:
            self._open.discard(s)
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()

    def cut(self) -> None:
        self._up = False
        with self._lock:
            victims = list(self._open)
        for s in victims:
            self._close(s)

    def restore(self) -> None:
        self._up = True

    def close(self) -> None:
        self.cut()
        self._listener.close()


CONFIG = SimulationConfig(seed=11, agents={"explorer": 10, "collector": 6, "coordinator": 2})


def _run_through_outage(engine, check_engine, go_down, come_back) -> None:
    """Run 20 ticks, take the database away for 30 ticks, bring it back, run 20 more."""
    with check_engine.begin() as conn:
        sim_id = simulations.create(conn, CONFIG)
    sim = Simulation(CONFIG)
    writer = StorageWriter(
        engine, sim_id, queue_size=8, policy="coalesce", backoff_initial=0.02, backoff_max=0.5
    )
    seen = []

    def on_tick(events):
        seen.append(events)
        writer.submit(events)
        time.sleep(0.005)  # let writes interleave with ticks

    sim.run(20, on_tick=on_tick)
    go_down()
    try:
        deadline = time.monotonic() + 30
        sim.run(30, on_tick=on_tick)  # the simulation does not wait for the database
        while writer.retries == 0 and time.monotonic() < deadline:
            sim.run(1, on_tick=on_tick)
        assert writer.retries > 0, "the writer never noticed the outage"
        assert writer.pending_ticks > 0
    finally:
        come_back()
    sim.run(20, on_tick=on_tick)
    assert writer.close(timeout=60), writer.last_error
    ticks = [ev.tick for ev in seen]
    assert sim.tick == ticks[-1] >= 70
    with check_engine.connect() as conn:
        rows = metrics.read(conn, sim_id)
        assert [r.tick for r in rows] == ticks  # every tick, once, in order
        for row, ev in zip(rows, seen, strict=True):
            assert row.mean_energy == pytest.approx(float(np.mean(ev.energy)), rel=1e-5)
        stored = agents.query(conn, sim_id, limit=1000)
        assert [a.agent_id for a in stored] == seen[-1].ids.tolist()
        assert {a.updated_tick for a in stored} == {ticks[-1]}
        assert simulations.get(conn, sim_id).tick == ticks[-1]
    assert writer.ticks_written == writer.ticks_accepted == len(ticks)


def test_writer_survives_a_cut_connection(pg_url, pg_schema, pg_engine):
    url = sa.engine.make_url(pg_url)
    proxy = Proxy((url.host or "127.0.0.1", url.port or 5432))
    engine = create_engine_for(url.set(host="127.0.0.1", port=proxy.port), schema=pg_schema)
    try:
        _run_through_outage(engine, pg_engine, proxy.cut, proxy.restore)
    finally:
        engine.dispose()
        proxy.close()


def _cluster(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
        check=True,
        timeout=120,
    )


def _wait_ready(engine, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return
        except sa.exc.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("FREEAGENTICS_ALLOW_PG_RESTART") != "1",
    reason="stops the local PostgreSQL; set FREEAGENTICS_ALLOW_PG_RESTART=1",
)
def test_writer_survives_a_postgres_restart(pg_url, pg_schema, pg_engine):
    engine = create_engine_for(pg_url, schema=pg_schema)
    started = {"up": True}

    def stop() -> None:
        started["up"] = False
        _cluster("stop")

    def start() -> None:
        _cluster("start")
        started["up"] = True
        _wait_ready(pg_engine)

    try:
        _run_through_outage(engine, pg_engine, stop, start)
    finally:
        if not started["up"]:
            _cluster("start")  # never leave the server down for the rest of the suite
            _wait_ready(pg_engine)
        engine.dispose()
