"""CPU % and resident memory per process, sampled with psutil at a fixed interval.

Processes are the server (by pid) and the load test's own children (the user workers,
found afresh at every sample because they start after the sampler). CPU % is psutil's
per-process figure, 100 = one core busy; the machine's CPU % and memory in use are
sampled alongside.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import psutil

__all__ = ["Sampler"]


class Sampler:
    """Sample in a background thread every ``interval_s`` until :meth:`stop`."""

    def __init__(self, server_pid: int, interval_s: float = 0.5):
        self.interval_s = interval_s
        self.server = psutil.Process(server_pid)
        self.me = psutil.Process(os.getpid())
        self.samples: list[dict[str, Any]] = []
        self._clients: dict[int, psutil.Process] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loadtest-sampler", daemon=True)
        self._t0 = time.monotonic()

    def start(self) -> Sampler:
        self.server.cpu_percent(None)  # the first call only primes the counter
        psutil.cpu_percent(None)
        self._thread.start()
        return self

    def _clients_now(self) -> list[psutil.Process]:
        try:
            children = self.me.children(recursive=True)
        except psutil.Error:
            children = []
        for child in children:
            if child.pid != self.server.pid and child.pid not in self._clients:
                self._clients[child.pid] = child
                try:
                    child.cpu_percent(None)
                except psutil.Error:
                    pass
        return [p for p in self._clients.values() if p.is_running()]

    def sample(self) -> dict[str, Any]:
        """One sample (also appended to :attr:`samples`)."""
        row: dict[str, Any] = {"t": time.monotonic() - self._t0}
        try:
            with self.server.oneshot():
                row["server_cpu_percent"] = self.server.cpu_percent(None)
                row["server_rss_mb"] = self.server.memory_info().rss / 2**20
                row["server_threads"] = self.server.num_threads()
        except psutil.Error:
            row["server_cpu_percent"] = row["server_rss_mb"] = None
        cpu = rss = 0.0
        clients = self._clients_now()
        for proc in clients:
            try:
                cpu += proc.cpu_percent(None)
                rss += proc.memory_info().rss
            except psutil.Error:
                continue
        row["clients"] = len(clients)
        row["clients_cpu_percent"] = cpu
        row["clients_rss_mb"] = rss / 2**20
        row["machine_cpu_percent"] = psutil.cpu_percent(None)
        row["machine_memory_percent"] = psutil.virtual_memory().percent
        self.samples.append(row)
        return row

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def clock(self) -> float:
        """Seconds since the sampler was made: the time axis of every sample."""
        return time.monotonic() - self._t0

    def latest(self) -> dict[str, Any]:
        return self.samples[-1] if self.samples else {}

    def stop(self) -> list[dict[str, Any]]:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        return self.samples
