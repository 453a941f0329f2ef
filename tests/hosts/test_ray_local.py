"""The local cluster of the tests is a real one: two raylets, objects moving between
them, and a node that can be killed and started again, with workers started in advance
that import the simulation host's machinery before they take work."""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pytest

ray = pytest.importorskip("ray")

PRELOADED = "freeagentics.server._rayruntime"  # preloaded by the ray_cluster fixture


@ray.remote(num_cpus=0)
class _Probe:
    def __init__(self):
        self.began = time.time()

    def node(self) -> str:
        return ray.get_runtime_context().get_node_id()

    def process(self) -> tuple[int, float, float | None]:
        """Its process id, when the actor began, and when the process had imported the
        preloaded module (None: not imported)."""
        module = sys.modules.get(PRELOADED)
        return os.getpid(), self.began, getattr(module, "IMPORTED_AT", None)

    def total(self, array: np.ndarray) -> tuple[float, bool]:
        return float(array.sum()), bool(array.flags.writeable)


def test_two_nodes_run_actors_placed_on_each_and_move_arrays_between_them(ray_cluster):
    alive = [n for n in ray.nodes() if n["Alive"]]
    assert len(alive) == 2
    assert ray_cluster.node_id("a") != ray_cluster.node_id("b")
    probes = {name: _Probe.options(**ray_cluster.on(name)).remote() for name in ("a", "b")}
    for name, probe in probes.items():
        assert ray.get(probe.node.remote()) == ray_cluster.node_id(name)
    # an array put by the driver (on node a) read on node b: sent between object stores,
    # read in place there (numpy arrays from the object store are read-only views)
    array = np.arange(1_000_000, dtype=np.float64)
    total, writeable = ray.get(probes["b"].total.remote(ray.put(array)))
    assert total == float(array.sum()) and not writeable


@pytest.mark.slow
def test_a_killed_node_is_declared_dead_takes_its_actors_and_starts_again(ray_cluster):
    victim = _Probe.options(**ray_cluster.on("b"), max_restarts=0).remote()
    survivor = _Probe.options(**ray_cluster.on("a")).remote()
    old_id = ray.get(victim.node.remote())
    try:
        ray_cluster.kill_node("b")
        assert not any(n["NodeID"] == old_id and n["Alive"] for n in ray.nodes())
        with pytest.raises(ray.exceptions.RayActorError):
            ray.get(victim.node.remote(), timeout=60)
        assert ray.get(survivor.node.remote()) == ray_cluster.node_id("a")
    finally:
        ray_cluster.start_node("b")
    assert ray_cluster.node_id("b") != old_id
    # the new node starts a worker in advance, which imports the preloaded modules
    deadline = time.monotonic() + 120
    while not (waiting := ray_cluster.idle_workers("b")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert waiting, "node b started no worker in advance"
    fresh = _Probe.options(**ray_cluster.on("b")).remote()
    assert ray.get(fresh.node.remote()) == ray_cluster.node_id("b")
    pid, began, imported_at = ray.get(fresh.process.remote())
    assert pid in waiting  # the actor took a worker that was waiting, not a new one
    assert imported_at is not None and imported_at < began  # imported before it began
