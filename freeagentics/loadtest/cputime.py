"""CPU time of process trees: the server's (however many processes it runs) and the generator's.

A server may be one process or several (API workers, a simulation host process, their
helpers), and a load generator several user processes. Their CPU is accounted the same
way: at each :meth:`Accounts.read`, every descendant of the load test's own process is
found afresh (psutil), sorted into a group by its ancestry -- the server's root process
and everything below it is ``server``; the other descendants are ``generator`` -- and
its cumulative CPU time (user + system, its own, not its reaped children's) is read.

Cumulative seconds, not sampled percentages: the CPU % of a window is the difference of
two readings over the time between them, exact whatever happened in between. A process
that exits keeps the seconds of its last reading (what it used after that, at most one
reading interval's worth, is lost); processes are keyed by pid and creation time, so a
reused pid is a new process.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import psutil

__all__ = ["Accounts", "GroupReading", "label_of", "split_tree"]


def split_tree(parents: dict[int, int], root: int) -> tuple[set[int], set[int]]:
    """Split descendants into those under ``root`` (``root`` included) and the others.

    ``parents`` maps each process (pid) to its parent's pid.
    """
    inside, outside = set(), set()
    for pid in parents:
        walk, seen = pid, set()
        while walk in parents and walk != root and walk not in seen:
            seen.add(walk)
            walk = parents[walk]
        (inside if walk == root else outside).add(pid)
    return inside, outside


def label_of(cmdline: list[str]) -> str:
    """A short name for a process: its program and module or script, e.g.
    ``python -m freeagentics.cli serve``."""
    if not cmdline:
        return "?"
    words = [os.path.basename(cmdline[0])]
    rest = cmdline[1:]
    if "-m" in rest:
        at = rest.index("-m")
        words += rest[at : at + 3]
    elif "-c" in rest:
        words.append("-c …")
    elif rest:
        words.append(os.path.basename(rest[0]))
    return " ".join(words)[:80]


@dataclass
class GroupReading:
    """One group's figures at one reading: cumulative CPU seconds (all processes ever
    seen, and per pid), resident memory of the live ones, and their count."""

    cpu_s: float = 0.0
    cpu_s_by_pid: dict[int, float] = field(default_factory=dict)
    rss_bytes: int = 0
    processes: int = 0
    threads: int = 0


class Accounts:
    """Cumulative CPU per group (``server``, ``generator``) among this process's descendants,
    plus this process itself (``harness``: sampler, probe, progress display)."""

    def __init__(self, server_pid: int, me: int | None = None):
        self.server_pid = server_pid
        self.me = psutil.Process(me or os.getpid())
        #: (pid, create time) -> (group, last cumulative CPU seconds)
        self._seen: dict[tuple[int, float], tuple[str, float]] = {}
        self._procs: dict[int, psutil.Process] = {}
        #: pid -> label, for every process seen in a group other than ``harness``
        self.labels: dict[int, str] = {}

    def _descendants(self) -> Iterable[psutil.Process]:
        try:
            return self.me.children(recursive=True)
        except psutil.Error:
            return []

    def read(self) -> dict[str, GroupReading]:
        """A reading of every group (see :class:`GroupReading`)."""
        procs: dict[int, psutil.Process] = {}
        parents: dict[int, int] = {}
        for proc in self._descendants():
            known = self._procs.get(proc.pid)
            if known is not None and known.create_time() == proc.create_time():
                proc = known
            try:
                parents[proc.pid] = proc.ppid()
            except psutil.Error:
                continue
            procs[proc.pid] = proc
        self._procs = procs
        server, _ = split_tree(parents, self.server_pid)
        live: dict[str, GroupReading] = {g: GroupReading() for g in ("server", "generator")}
        for pid, proc in procs.items():
            group = "server" if pid in server else "generator"
            try:
                with proc.oneshot():
                    times = proc.cpu_times()
                    rss = proc.memory_info().rss
                    threads = proc.num_threads()
                    key = (pid, proc.create_time())
                    if pid not in self.labels:
                        self.labels[pid] = label_of(proc.cmdline())
            except psutil.Error:
                continue
            self._seen[key] = (group, times.user + times.system)
            live[group].rss_bytes += rss
            live[group].processes += 1
            live[group].threads += threads
        for (pid, _created), (group, cpu_s) in self._seen.items():
            reading = live[group]
            reading.cpu_s += cpu_s
            reading.cpu_s_by_pid[pid] = reading.cpu_s_by_pid.get(pid, 0.0) + cpu_s
        try:
            times = self.me.cpu_times()
            live["harness"] = GroupReading(
                cpu_s=times.user + times.system,
                rss_bytes=self.me.memory_info().rss,
                processes=1,
                threads=self.me.num_threads(),
            )
        except psutil.Error:
            live["harness"] = GroupReading()
        return live
