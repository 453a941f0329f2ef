"""CPU % and resident memory per process, sampled with psutil at a fixed interval.

Processes are the server (by pid, with its own children: the simulation host process it
starts) and the load test's own other children (the user workers), both found afresh at
every sample because they start after the sampler. CPU % is psutil's per-process figure
summed over a group, 100 = one core busy; the machine's CPU % and memory in use are
sampled alongside.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import psutil

__all__ = ["Sampler", "tree_rss"]


def tree_rss(pid: int) -> int:
    """Resident bytes of process ``pid`` and its descendants (a server and its host)."""
    root = psutil.Process(pid)
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total


class _Group:
    """Processes found over time (primed for CPU % when first seen), summed per sample."""

    def __init__(self) -> None:
        self.known: dict[int, psutil.Process] = {}

    def update(self, found: list[psutil.Process]) -> list[psutil.Process]:
        for proc in found:
            if proc.pid not in self.known:
                self.known[proc.pid] = proc
                try:
                    proc.cpu_percent(None)  # the first call only primes the counter
                except psutil.Error:
                    pass
        alive = [p for p in self.known.values() if p.is_running()]
        self.known = {p.pid: p for p in alive}
        return alive

    @staticmethod
    def totals(procs: list[psutil.Process]) -> tuple[float, float, int]:
        cpu = rss = 0.0
        threads = 0
        for proc in procs:
            try:
                with proc.oneshot():
                    cpu += proc.cpu_percent(None)
                    rss += proc.memory_info().rss
                    threads += proc.num_threads()
            except psutil.Error:
                continue
        return cpu, rss, threads


class Sampler:
    """Sample in a background thread every ``interval_s`` until :meth:`stop`."""

    def __init__(self, server_pid: int, interval_s: float = 0.5):
        self.interval_s = interval_s
        self.server = psutil.Process(server_pid)
        self.me = psutil.Process(os.getpid())
        self.samples: list[dict[str, Any]] = []
        self._servers, self._clients = _Group(), _Group()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loadtest-sampler", daemon=True)
        self._t0 = time.monotonic()

    def start(self) -> Sampler:
        self._groups_now()  # primes the CPU counters of the processes there are now
        psutil.cpu_percent(None)
        self._thread.start()
        return self

    def _groups_now(self) -> tuple[list[psutil.Process], list[psutil.Process]]:
        try:
            server_tree = [self.server, *self.server.children(recursive=True)]
        except psutil.Error:
            server_tree = []
        try:
            mine = self.me.children(recursive=True)
        except psutil.Error:
            mine = []
        in_server = {p.pid for p in server_tree}
        servers = self._servers.update(server_tree)
        clients = self._clients.update([p for p in mine if p.pid not in in_server])
        return servers, clients

    def sample(self) -> dict[str, Any]:
        """One sample (also appended to :attr:`samples`)."""
        row: dict[str, Any] = {"t": time.monotonic() - self._t0}
        servers, clients = self._groups_now()
        if servers:
            cpu, rss, threads = _Group.totals(servers)
            row["server_cpu_percent"], row["server_rss_mb"] = cpu, rss / 2**20
            row["server_threads"], row["server_processes"] = threads, len(servers)
        else:
            row["server_cpu_percent"] = row["server_rss_mb"] = None
        cpu, rss, _ = _Group.totals(clients)
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
