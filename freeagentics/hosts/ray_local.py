"""A real Ray cluster of several nodes on this machine, for tests and benchmarks.

``ray start --head`` starts the first node (GCS, raylet, object store), then one
``ray start --address`` per further node: separate raylets and object stores, so
objects move between nodes exactly as between machines (over the object manager, not
shared memory), only faster. Each node carries a custom resource ``node_<name>``
(1 unit) so actors can be placed on it (:meth:`LocalCluster.on`).

Everything it starts is its own: a fresh temporary folder (``/tmp/fa-ray-*``: Ray's
socket paths must stay short), random ports, and at the end every process whose
command line names that folder, with their children, is ended by process id. ``ray
stop`` is not used: it ends every Ray process of the machine, other clusters' too.
Dashboard and log forwarding are off. The nodes start as a deployment's should
(:func:`~freeagentics.hosts.ray_node.node_env`): a dead node is declared dead after
three missed health checks ``health_check_ms`` apart; each node starts one worker per
CPU (at most one per core) in advance, importing the modules in ``preload`` first, and
keeps it beside up to ``soft_limit`` workers, so that an actor started or restarted
there finds its imports done (:meth:`LocalCluster.idle_workers` lists them).

Usage::

    with LocalCluster(("a", "b")) as cluster:   # started and connected
        actor = Worker.options(**cluster.on("b")).remote()
        cluster.kill_node("b")                   # the raylet and its workers, SIGKILL
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import psutil

from freeagentics.hosts.ray_node import node_env

__all__ = ["ClusterError", "LocalCluster"]

#: the checkout (or installed tree) holding this package: workers must import the same code
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


class ClusterError(RuntimeError):
    """The local cluster did not start, or a node could not be found or ended."""


class LocalCluster:
    """Nodes ``names`` of one Ray cluster on this machine (the first is the head).

    Args:
        names: node names (short identifiers); each node gets the resource ``node_<name>``.
        num_cpus: CPUs each node offers to the scheduler (and workers it starts in advance).
        object_store_bytes: each node's object store (shared memory) size.
        health_check_ms: how often the GCS checks nodes (a dead one is declared after
            three missed checks).
        start_timeout_s: how long to wait for the nodes to register.
        preload: modules every worker imports before it takes work.
        soft_limit: workers (actors' included) a node keeps before it ends idle ones; the
            tests' actors reserve slivers of a CPU, so many share a one-CPU node.
    """

    def __init__(
        self,
        names: Sequence[str] = ("a", "b"),
        *,
        num_cpus: int = 1,
        object_store_bytes: int = 256 * 1024**2,
        health_check_ms: int = 500,
        start_timeout_s: float = 60.0,
        preload: Sequence[str] = (),
        soft_limit: int = 64,
    ):
        if not names or len(set(names)) != len(names) or not all(n.isidentifier() for n in names):
            raise ValueError(f"node names must be distinct identifiers, got {list(names)}")
        self.names = tuple(names)
        self.num_cpus = num_cpus
        self.object_store_bytes = object_store_bytes
        self.health_check_ms = health_check_ms
        self.start_timeout_s = start_timeout_s
        self.preload = tuple(preload)
        #: the ``RAY_*`` variables every node starts with
        self.node_env = node_env(preload, health_check_ms=health_check_ms, soft_limit=soft_limit)
        self.node_env["RAY_health_check_initial_delay_ms"] = "0"  # nodes here live briefly
        self.temp_dir: str | None = None
        self.address: str | None = None
        #: seconds the last :meth:`start` took (all nodes up and the driver connected)
        self.start_seconds: float | None = None
        self._worker_ports = 0  # first of each node's 200 worker ports, node after node
        self._node_pids: dict[str, set[int]] = {}
        self._node_ids: dict[str, str] = {}
        self._connected = False

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, connect: bool = True) -> LocalCluster:
        """Start every node; with ``connect``, connect this process and wait until every
        node is alive (without, a driver connecting later waits for them itself)."""
        began = time.perf_counter()
        self.temp_dir = tempfile.mkdtemp(prefix="fa-ray-", dir="/tmp")
        try:
            self.address = f"127.0.0.1:{_free_port()}"
            self._worker_ports = random.randrange(20_000, 30_000 - 200 * len(self.names), 200)
            for name in self.names:
                self.start_node(name)
            if connect:
                self.connect()
                self._wait_for_nodes()
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.perf_counter() - began
        return self

    def connect(self) -> None:
        """``ray.init`` this process as a driver of the cluster (no logs forwarded)."""
        import ray

        if not self._connected:
            ray.init(address=self.address, log_to_driver=False, configure_logging=False)
            self._connected = True

    def stop(self) -> None:
        """Disconnect, end every process of the cluster (by pid) and remove its folder."""
        if self._connected:
            import ray

            with contextlib.suppress(Exception):
                ray.shutdown()
            self._connected = False
        if self.temp_dir is not None:
            _end(self._cluster_processes(), sig_kill=True)  # a test cluster: nothing to save
            shutil.rmtree(self.temp_dir, ignore_errors=True)
            self.temp_dir = None

    # ------------------------------------------------------------------ nodes
    def resource(self, name: str) -> str:
        """The custom resource that pins work to node ``name``."""
        self._check(name)
        return f"node_{name}"

    def on(self, name: str) -> dict:
        """Actor or task options that place it on node ``name`` (a sliver of its resource,
        so any number fit)."""
        return {"resources": {self.resource(name): 0.001}}

    def node_id(self, name: str) -> str:
        """The Ray node id (hex) of node ``name``."""
        self._check(name)
        if name not in self._node_ids:
            import ray

            for node in ray.nodes():
                if node["Alive"] and self.resource(name) in node["Resources"]:
                    self._node_ids[name] = node["NodeID"]
                    break
            else:
                raise ClusterError(f"node {name!r} is not alive in the cluster")
        return self._node_ids[name]

    def node_of(self, pid: int) -> str:
        """The node whose processes include ``pid`` (a worker: a child of its raylet)."""
        for name, pids in self._node_pids.items():
            if pid in {p.pid for p in _with_children(pids)}:
                return name
        raise ClusterError(f"process {pid} belongs to no node of this cluster")

    def idle_workers(self, name: str) -> set[int]:
        """The process ids of node ``name``'s workers waiting for work (started in advance,
        or done with their tasks): what Ray calls them, ``ray::IDLE``."""
        self._check(name)
        idle = set()
        for proc in _with_children(self._node_pids.get(name, set())):
            with contextlib.suppress(psutil.Error):
                if proc.cmdline()[:1] == ["ray::IDLE"]:
                    idle.add(proc.pid)
        return idle

    def start_node(self, name: str) -> None:
        """Start node ``name`` (again, after :meth:`kill_node`: a fresh node id)."""
        self._check(name)
        if self._node_pids.get(name):
            raise ClusterError(f"node {name!r} is running")
        index = self.names.index(name)
        before = self._own_pids()
        args = self._node_args(name, self._worker_ports + 200 * index)
        port = self.address.rsplit(":", 1)[1]
        args += (
            ["--head", f"--port={port}", "--include-dashboard=false"]
            if index == 0
            else [f"--address={self.address}"]
        )
        self._ray_start(args)
        self._node_pids[name] = self._own_pids() - before
        self._node_ids.pop(name, None)
        if self._connected:
            self._wait_for_nodes()

    def kill_node(self, name: str, wait: bool = True) -> None:
        """End node ``name`` as a machine failure would: SIGKILL to its raylet, its
        object store and agents and every worker on it. With ``wait``, return once the
        cluster has declared it dead."""
        if name == self.names[0]:
            raise ClusterError("the head node holds the cluster's GCS; kill another node")
        node_id = self.node_id(name)
        procs = _with_children(self._node_pids.get(name, set()))
        if not any(p.pid in self._node_pids.get(name, set()) for p in procs):
            raise ClusterError(f"node {name!r} has no process left to kill")
        _end(procs, sig_kill=True)
        self._node_pids[name] = set()
        self._node_ids.pop(name, None)
        if wait:
            import ray

            deadline = time.monotonic() + 30 * self.health_check_ms / 1000 + 30
            while time.monotonic() < deadline:
                if not any(n["NodeID"] == node_id and n["Alive"] for n in ray.nodes()):
                    return
                time.sleep(0.2)
            raise ClusterError(f"node {name!r} is still alive after its processes were killed")

    # ------------------------------------------------------------------ helpers
    def _check(self, name: str) -> None:
        if name not in self.names:
            raise ClusterError(f"no node {name!r}; nodes are {list(self.names)}")

    def _node_args(self, name: str, worker_port: int) -> list[str]:
        return [
            f"--num-cpus={self.num_cpus}",
            f"--object-store-memory={self.object_store_bytes}",
            f"--resources={json.dumps({f'node_{name}': 1})}",
            f"--temp-dir={self.temp_dir}",
            "--include-log-monitor=false",
            "--disable-usage-stats",
            f"--min-worker-port={worker_port}",
            f"--max-worker-port={worker_port + 199}",
            f"--dashboard-agent-listen-port={_free_port()}",
            f"--dashboard-agent-grpc-port={_free_port()}",
            f"--runtime-env-agent-port={_free_port()}",
            f"--metrics-export-port={_free_port()}",
            "--node-ip-address=127.0.0.1",
        ]

    def _ray_start(self, args: list[str]) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p
        )
        env["RAY_USAGE_STATS_ENABLED"] = "0"
        env.update(self.node_env)
        ray_cmd = str(Path(sys.executable).with_name("ray"))
        done = subprocess.run(
            [ray_cmd, "start", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=self.start_timeout_s,
            start_new_session=True,
        )
        if done.returncode != 0:
            tail = (done.stderr or done.stdout)[-2000:]
            raise ClusterError(f"ray start failed ({done.returncode}): {tail}")

    def _wait_for_nodes(self) -> None:
        import ray

        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            alive = {r for n in ray.nodes() if n["Alive"] for r in n["Resources"]}
            running = [name for name in self.names if self._node_pids.get(name)]
            if all(self.resource(name) in alive for name in running):
                return
            time.sleep(0.1)
        raise ClusterError(f"nodes {self.names} did not register in {self.start_timeout_s}s")

    def _own_pids(self) -> set[int]:
        """Processes whose command line names this cluster's folder."""
        found = set()
        for proc in psutil.process_iter(["pid", "cmdline"]):
            with contextlib.suppress(psutil.Error):
                if any(self.temp_dir in arg for arg in proc.info["cmdline"] or ()):
                    found.add(proc.pid)
        return found

    def _cluster_processes(self) -> list[psutil.Process]:
        pids = self._own_pids()
        for node in self._node_pids.values():
            pids |= node
        return _with_children(pids)


def _with_children(pids: set[int]) -> list[psutil.Process]:
    """The processes ``pids`` and all their descendants (collected before any dies, so
    orphans handed to init are not lost)."""
    procs: dict[int, psutil.Process] = {}
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            procs[pid] = proc
            for child in proc.children(recursive=True):
                procs[child.pid] = child
    return list(procs.values())


def _end(procs: list[psutil.Process], sig_kill: bool = False) -> None:
    """Terminate (or kill) ``procs``; whatever is left after 5 s is killed."""
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.kill() if sig_kill else proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=5)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=5)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
