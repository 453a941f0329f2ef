"""The deployment's count of failovers, kept in Redis so that it outlives the processes.

A simulation on Ray resumes in a new process after its host died; the process that
counted the last failover is the one that died, so the counts live in Redis (which a
Ray deployment requires anyway), under the deployment's prefix:

* ``{prefix}:failovers`` and ``{prefix}:ticks_lost`` — totals over the deployment's
  life (what ``freeagentics_simulation_failovers_total`` and
  ``freeagentics_simulation_ticks_lost_total`` report);
* ``{prefix}:failovers:sim`` — a hash of failovers per live simulation (its summary's
  ``failovers``), a field dropped when the simulation is deleted, so it holds at most
  the deployment's ``max_simulations`` fields.
"""

from __future__ import annotations

__all__ = ["FailoverLedger", "redis_prefix"]


def redis_prefix(namespace: str) -> str:
    """The prefix of a Ray deployment's Redis keys (frames at ``{prefix}:ws``)."""
    return f"freeagentics:{namespace}"


class FailoverLedger:
    """Failovers and ticks lost of one deployment, in the Redis at ``url``.

    Every call is one short round trip (a socket timeout of ``timeout_s``); a Redis that
    does not answer raises ``redis.RedisError``.
    """

    def __init__(self, url: str, prefix: str, *, timeout_s: float = 2.0):
        import redis  # only where a deployment uses it

        self.redis = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        self._failovers, self._ticks = f"{prefix}:failovers", f"{prefix}:ticks_lost"
        self._per_sim = f"{prefix}:failovers:sim"

    def record(self, sim_id: int, ticks_lost: int) -> int:
        """Count one failover of ``sim_id`` that lost ``ticks_lost`` ticks; returns how
        many failovers ``sim_id`` has had."""
        with self.redis.pipeline() as pipe:  # MULTI: the totals and the hash move together
            pipe.incr(self._failovers)
            pipe.incrby(self._ticks, max(0, int(ticks_lost)))
            pipe.hincrby(self._per_sim, str(sim_id), 1)
            return int(pipe.execute()[2])

    def of(self, sim_id: int) -> int:
        """Failovers of ``sim_id`` so far."""
        return int(self.redis.hget(self._per_sim, str(sim_id)) or 0)

    def forget(self, sim_id: int) -> None:
        """``sim_id`` is deleted: drop its field (the totals keep its failovers)."""
        self.redis.hdel(self._per_sim, str(sim_id))

    def totals(self) -> tuple[int, int]:
        """``(failovers, ticks lost)`` over the deployment's life."""
        failovers, ticks = self.redis.mget(self._failovers, self._ticks)
        return int(failovers or 0), int(ticks or 0)

    def close(self) -> None:
        self.redis.close()
