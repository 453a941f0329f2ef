"""The sampler counts a server's own children (its simulation host) as the server."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from freeagentics.loadtest.sampler import Sampler, tree_rss

#: a "server" whose child spins (as a host steps simulations), and sleeps itself
SERVER = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'while True: pass'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(120)\n"
)


def test_the_servers_children_are_the_server_not_clients():
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    client = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    host = int(server.stdout.readline())
    try:
        sampler = Sampler(server.pid, interval_s=60).start()
        time.sleep(1.0)
        row = sampler.sample()
        assert row["server_processes"] == 2 and row["clients"] == 1
        assert row["server_cpu_percent"] > row["clients_cpu_percent"]  # the spinning host
        assert tree_rss(server.pid) > row["clients_rss_mb"] * 2**20
        sampler.stop()
    finally:
        for proc in (client, server):
            proc.kill()
            proc.wait()
        os.kill(host, 9)
