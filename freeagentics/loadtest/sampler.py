"""CPU and resident memory of the server, the generator and the machine, sampled regularly.

Each sample holds, per group of processes (:class:`~.cputime.Accounts`: ``server`` --
its root process and every process below it --, ``generator`` -- the user worker
processes --, and ``harness`` -- the load test's own process), the cumulative CPU
seconds (``<group>_cpu_s``), the CPU % since the previous sample (100 = one core busy),
resident memory (MB) and process count; the server's CPU seconds also per process
(``server_cpu_s_by_pid``; :attr:`Sampler.labels` names them). The machine's CPU % (of
all its cores), memory in use and 1-minute load average are sampled alongside: the
machine may be shared, and what neither the server nor the generator used was someone
else's.

The generator's group keeps the key ``clients`` (``clients_cpu_percent``, ...) that
earlier records used.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import psutil

from freeagentics.loadtest.cputime import Accounts

__all__ = ["Sampler"]

#: sample keys per group: the generator's are named ``clients`` as in earlier records
_PREFIX = {"server": "server", "generator": "clients", "harness": "harness"}


class Sampler:
    """Sample in a background thread every ``interval_s`` until :meth:`stop`."""

    def __init__(self, server_pid: int, interval_s: float = 0.5):
        self.interval_s = interval_s
        self.accounts = Accounts(server_pid)
        self.samples: list[dict[str, Any]] = []
        self._last: dict[str, float] = {}
        self._last_t: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loadtest-sampler", daemon=True)
        self._t0 = time.monotonic()

    @property
    def labels(self) -> dict[int, str]:
        """A short command line per process seen (see :func:`~.cputime.label_of`)."""
        return dict(self.accounts.labels)

    def start(self) -> Sampler:
        psutil.cpu_percent(None)  # the first call only primes the counter
        self.sample()
        self._thread.start()
        return self

    def sample(self) -> dict[str, Any]:
        """One sample (also appended to :attr:`samples`)."""
        t = time.monotonic() - self._t0
        groups = self.accounts.read()
        row: dict[str, Any] = {"t": t}
        dt = None if self._last_t is None else t - self._last_t
        for group, reading in groups.items():
            prefix = _PREFIX[group]
            row[f"{prefix}_cpu_s"] = reading.cpu_s
            last = self._last.get(group)
            row[f"{prefix}_cpu_percent"] = (
                100 * (reading.cpu_s - last) / dt if dt and last is not None else None
            )
            row[f"{prefix}_rss_mb"] = reading.rss_bytes / 2**20
            row[f"{prefix}_processes"] = reading.processes
            self._last[group] = reading.cpu_s
        row["server_cpu_s_by_pid"] = {str(p): s for p, s in groups["server"].cpu_s_by_pid.items()}
        row["server_threads"] = groups["server"].threads
        row["clients"] = groups["generator"].processes
        row["machine_cpu_percent"] = psutil.cpu_percent(None)
        row["machine_memory_percent"] = psutil.virtual_memory().percent
        row["load_1m"] = os.getloadavg()[0]
        self._last_t = t
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

    def stop(self, timeout_s: float | None = None) -> list[dict[str, Any]]:
        """Stop sampling and take a last sample; the samples. A sample still under way
        after ``timeout_s`` seconds (None: however long it takes) is left to finish on
        its own, and there is no last sample."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        if not self._thread.is_alive():
            self.sample()
        return list(self.samples)
