"""Fixtures for the whole suite.

``ray_cluster``: a real Ray cluster of two nodes on this machine, ``"a"`` (the head)
and ``"b"``, each with one CPU and its own object store, started once per session when
a test asks for it and connected as this process's Ray driver, its nodes started as a
deployment's should be (workers started in advance, importing the simulation actors'
machinery before they take work; see :class:`freeagentics.hosts.ray_local.LocalCluster`:
``address``, ``on(name)`` to place an actor on a node, ``kill_node(name)``,
``start_node(name)`` and ``idle_workers(name)``). Without Ray
installed its tests are skipped, unless ``FREEAGENTICS_REQUIRE_SERVICES=1``; with Ray
installed, a cluster that does not start is an error, never a skip.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def ray_cluster():
    try:
        import ray  # noqa: F401
    except ImportError:
        if os.environ.get("FREEAGENTICS_REQUIRE_SERVICES") == "1":
            pytest.fail("ray is not installed (the test extra installs it)")
        pytest.skip("ray is not installed (pip install '.[ray]')")
    from freeagentics.hosts.ray_local import LocalCluster
    from freeagentics.server.rayhost import PRELOAD

    cluster = LocalCluster(("a", "b"), preload=PRELOAD).start()
    try:
        yield cluster
    finally:
        cluster.stop()
