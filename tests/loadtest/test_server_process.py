"""The load test's server never outlives what started it: stopping it leaves nothing of
its process tree (its simulation host has a session of its own), and a process killed
outright takes its server and the server's host with it (``serve --lifeline``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
from loadtest.processes import GONE_WITHIN_S, alive, family, kill_all, wait_until_gone

from freeagentics.loadtest.server import ServerProcess

#: a process tree that ignores SIGTERM, with a child in a session of its own
STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(3600)"
child = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
print(child.pid, flush=True)
time.sleep(3600)
"""

#: a process that starts a server, says its number, and waits to be killed
PARENT = """
import time
from freeagentics.loadtest.server import ServerProcess
server = ServerProcess(command="serve").start(timeout_s=300)
print(server.pid, flush=True)
time.sleep(3600)
"""


def _server_and_host(pid: int) -> dict[psutil.Process, str]:
    """The server's process and what it started, once its simulation host is up."""
    server = psutil.Process(pid)
    deadline = time.monotonic() + GONE_WITHIN_S
    while True:
        procs = {server: "serve", **family(pid)}
        if any("hostproc" in cmd for cmd in procs.values()):
            return procs
        assert time.monotonic() < deadline, procs
        time.sleep(0.1)


def test_stopping_leaves_nothing_of_the_servers_process_tree():
    server = ServerProcess(command="serve").start(timeout_s=300)
    procs: dict[psutil.Process, str] = {}
    try:
        procs = _server_and_host(server.pid)
        host = next(proc for proc, cmd in procs.items() if "hostproc" in cmd)
        # out of reach of a signal to the server's session
        assert os.getsid(host.pid) != os.getsid(server.pid)
    finally:
        server.stop(grace_s=0.0)  # straight to the killing
    try:
        assert [proc for proc in procs if alive(proc)] == []
    finally:
        kill_all(procs)


def test_what_does_not_stop_in_order_is_killed_sessions_notwithstanding():
    server = ServerProcess(command="serve")  # not started: a stubborn tree stands in
    server.proc = subprocess.Popen(
        [sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    procs = [psutil.Process(server.proc.pid)]
    try:
        procs.append(psutil.Process(int(server.proc.stdout.readline())))
        server.stop(grace_s=0.5)
        assert [proc for proc in procs if alive(proc)] == []
    finally:
        kill_all(procs)


@pytest.mark.slow
def test_a_server_never_outlives_the_process_that_started_it():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    procs: dict[psutil.Process, str] = {}
    try:
        procs = _server_and_host(int(parent.stdout.readline()))
        assert len(procs) >= 2 and all(alive(proc) for proc in procs)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(30)
        wait_until_gone(procs)
    finally:
        parent.kill()
        kill_all(procs)
