"""How every node of a Ray cluster that hosts simulations is started: the environment of
its ``ray start``, so that an actor restarted after a death resumes within seconds.

Where the seconds of a restart go: the GCS declaring a dead node dead (its health
checks), then a worker process for the actor on a live node, then the restore. A worker
that Ray starts on demand imports Python, Ray and the simulations' code first (300 MB,
seconds of CPU: 3–10 s on a busy 2-core machine, where Ray's workers run at niceness 15
behind other jobs), most of a failover; one started in advance, with the code already
imported, takes the actor at once. The variables:

* ``RAY_enable_worker_prestart=1`` — each raylet starts one worker per CPU of its node
  (``ray start --num-cpus``, at most one per core of the machine: as many as it starts
  at once) as it starts, bound to no job, so that any job's actor may take one. Ray
  does not start more when they are taken, nor for a new job, and a worker that ran a
  task is never given an actor: a node has warm workers for its first actors (new or
  restarted), then starts them cold until the node is started again;
* ``RAY_preload_python_modules=a,b`` — every worker imports these before it takes work
  (the modules a simulation actor runs: :data:`freeagentics.server.rayhost.PRELOAD`);
* ``RAY_num_workers_soft_limit`` — how many workers (actors' included) a node keeps
  before it ends idle ones; Ray's default, the node's CPUs, ends the workers started in
  advance as soon as actors that reserve less than a CPU each fill it up;
* ``RAY_health_check_period_ms`` and ``RAY_health_check_failure_threshold`` (read by the
  GCS, on the head node) — a node is declared dead after that many failed checks in a
  row, each failing at once when the node's processes are gone (connection refused) or
  after ``RAY_health_check_timeout_ms`` (10 s by default) when the node hangs: a killed
  node is declared dead after about period × threshold, 15 s with Ray's defaults (3 s,
  5), 1.5 s with 500 ms and 3. The price of a short period is a node declared dead when
  it misses three checks in a row without being dead: its actors are restarted
  elsewhere from their last checkpoints (ticks since then are lost) and the node leaves
  the cluster. Keep the timeout long, so that only a node that cannot answer at all is
  missed.

Raylets read these variables when they start (``ray start`` passes its environment on),
so they must be set on every node, the head included.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["node_env"]


def node_env(
    preload: Sequence[str] = (),
    *,
    health_check_ms: int = 500,
    failure_threshold: int = 3,
    soft_limit: int | None = None,
) -> dict[str, str]:
    """The ``RAY_*`` variables of a node's ``ray start`` (see the module docstring).

    Args:
        preload: modules every worker imports before it takes work.
        health_check_ms: how often the GCS checks each node.
        failure_threshold: failed checks in a row that declare a node dead.
        soft_limit: workers a node keeps before it ends idle ones (None: Ray's default,
            the node's CPUs).
    """
    if health_check_ms < 1 or failure_threshold < 1:
        raise ValueError("health_check_ms and failure_threshold must be positive")
    if not all(m and all(p.isidentifier() for p in m.split(".")) for m in preload):
        raise ValueError(f"preload must name modules, got {list(preload)}")
    env = {
        "RAY_enable_worker_prestart": "1",
        "RAY_health_check_period_ms": str(health_check_ms),
        "RAY_health_check_failure_threshold": str(failure_threshold),
    }
    if preload:
        env["RAY_preload_python_modules"] = ",".join(preload)
    if soft_limit is not None:
        if soft_limit < 1:
            raise ValueError(f"soft_limit must be positive, got {soft_limit}")
        env["RAY_num_workers_soft_limit"] = str(soft_limit)
    return env
