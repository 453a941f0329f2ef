"""Processes in the load test's tests: which are alive, what a process started, and
cleaning up after a test that failed. Processes are :class:`psutil.Process` handles,
which tell a process from one that took its number since."""

from __future__ import annotations

import time
from collections.abc import Iterable

import psutil

#: far longer than a server's lifeline grace (30 s) and a busy machine's delays
GONE_WITHIN_S = 120.0


def alive(proc: psutil.Process) -> bool:
    """Running, and neither a zombie nor a process that took the number since."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def family(pid: int) -> dict[psutil.Process, str]:
    """Every process below ``pid``, with its command line."""
    below = psutil.Process(pid).children(recursive=True)
    return {proc: " ".join(proc.cmdline()) for proc in below}


def wait_until_gone(procs: Iterable[psutil.Process], timeout_s: float = GONE_WITHIN_S) -> None:
    procs = list(procs)
    deadline = time.monotonic() + timeout_s
    while any(alive(proc) for proc in procs):
        assert time.monotonic() < deadline, [proc for proc in procs if alive(proc)]
        time.sleep(0.1)


def kill_all(procs: Iterable[psutil.Process]) -> None:
    """Whatever a failed test left running (never a process that took a number since)."""
    for proc in procs:
        try:
            proc.kill()
        except psutil.Error:
            pass
