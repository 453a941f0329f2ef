"""The sampler counts a server's own children (its simulation host) as the server."""

from __future__ import annotations

import json
import subprocess
import sys

#: in a process of its own (whose only children are these): a "server" whose child spins
#: as a host stepping simulations does, and a sleeping "client"
SCRIPT = """
import json, subprocess, sys, time
import psutil
from freeagentics.loadtest.runner import server_rss
from freeagentics.loadtest.sampler import Sampler
spin = (
    "import subprocess, sys, time; "
    "subprocess.Popen([sys.executable, '-c', 'while True: pass']); time.sleep(120)"
)
server = subprocess.Popen([sys.executable, "-c", spin])
client = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
try:
    time.sleep(0.5)
    sampler = Sampler(server.pid, interval_s=60).start()
    time.sleep(1.0)
    row = sampler.sample()
    row["tree_rss"] = server_rss(server.pid)
    sampler.stop()
    print(json.dumps(row))
finally:
    for proc in [*psutil.Process(server.pid).children(), server, client]:
        proc.kill()
"""


def test_the_servers_children_are_the_server_not_clients():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    row = json.loads(out.stdout.splitlines()[-1])
    assert row["server_processes"] == 2 and row["clients_processes"] == 1
    assert row["server_cpu_percent"] > row["clients_cpu_percent"]  # the spinning host
    assert row["tree_rss"] > row["clients_rss_mb"] * 2**20
