"""Sharded populations: one simulation's agents split across shard actors.

The simulation (world, coalitions, knowledge graph, targets) stays where it is, the
coordinator; each shard (a Ray actor, :class:`~freeagentics.hosts._shard.ShardRows`)
holds a contiguous range of rows of every kind's cohort with its belief history and
visit memory. Each tick the coordinator sends each shard its rows' inputs (compass
readings, contact, energy levels: 17 bytes an agent) and gets moves back (one byte);
refused moves, history and changed preferences follow as calls that are not waited
for (a Ray actor runs one caller's calls in order), and metrics are fetched on the
ticks that compute them. Arrays go through Ray's object store, and a shard reads them
where they lie (read-only views; copies only between nodes).

With the same seed a sharded run is the unsharded run, bit for bit: every per-agent
kernel works row by row, the rows are never cut finer than a cohort's arithmetic
allows (:func:`~freeagentics.agents._engines.smallest_part`), and stochastic action
choices draw the whole's random numbers (:class:`~freeagentics.hosts._row_parts.RowSliceGenerator`).

Usage::

    sim = Simulation(config)
    shard(sim, 2, placement=[{"resources": {"node_a": 0.001}}, {"resources": {"node_b": 0.001}}])
    sim.run(100)                # TickEvents as ever; sim.agent_rows.last_comm: costs
    sim.checkpoint(path)        # gathers the rows
    unshard(sim)                # rows back in this process, actors ended

The population of a sharded simulation is fixed: adding or removing agents raises
:class:`~freeagentics.errors.ConfigurationError` (unshard, change, shard again). A
shard that is lost (its process or node dies) makes ``step()`` raise Ray's error,
leaving that tick unfinished; the simulation resumes from a checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from freeagentics.agents._engines import smallest_part
from freeagentics.agents.cohort import Cohort
from freeagentics.agents.population import Group
from freeagentics.errors import ConfigurationError
from freeagentics.hosts._row_parts import join_rows, plan_parts, rows_of
from freeagentics.hosts._shard import SMALL, RowPart, ShardRows, pack_inputs, slice_packed
from freeagentics.simulation import Simulation
from freeagentics.simulation._rows import GroupInputs, LocalAgents
from freeagentics.state import State
from freeagentics.worlds import Cell

__all__ = ["ShardedAgents", "shard", "unshard"]

#: seconds to wait for shard actors to be placed and built
READY_TIMEOUT_S = 300.0


def shard(
    sim: Simulation,
    shards: int | Sequence[float] = 2,
    *,
    placement: Sequence[dict[str, Any]] | None = None,
    in_process: bool = False,
) -> ShardedAgents:
    """Move ``sim``'s agents' rows into shards; ``sim`` steps as before, bit for bit.

    Args:
        sim: a simulation whose rows are in this process.
        shards: the number of shards (equal parts), or one weight per shard (uneven parts).
        placement: per shard, Ray actor options (e.g. ``{"resources": {"node_b": 0.001}}``
            or ``{"num_cpus": 1}``); default: one CPU each, placed by Ray.
        in_process: plain objects in this process instead of Ray actors (no Ray needed:
            the same code path and arithmetic, without the transport).

    Returns:
        the :class:`ShardedAgents` now at ``sim.agent_rows``.
    """
    if not isinstance(sim.agent_rows, LocalAgents):
        raise ConfigurationError("this simulation is sharded already")
    weights = [1.0] * shards if isinstance(shards, int) else list(shards)
    if isinstance(shards, int) and shards < 1:
        raise ConfigurationError(f"shards must be >= 1, got {shards}")
    if placement is not None and len(placement) != len(weights):
        raise ConfigurationError(f"placement names {len(placement)} shards, not {len(weights)}")
    _check_fits_bytes(sim)
    groups = [g for g in sim.population.groups if g.n]
    bounds = {g.code: plan_parts(g.n, weights, smallest_part(g.cohort.engine)) for g in groups}
    parts: list[list[RowPart]] = [[] for _ in weights]
    for g in groups:
        state = g.cohort.export_state()
        for s, (start, stop) in enumerate(bounds[g.code]):
            if stop > start:
                parts[s].append(
                    RowPart(
                        g.code,
                        g.kind,
                        start,
                        stop,
                        g.n,
                        rows_of(state, start, stop),
                        g.history[start:stop],
                        g.visits[start:stop],
                    )
                )
    strength = sim.config.coalitions.strength
    transport = _InProcess() if in_process else _Ray()
    handles: list = []
    try:
        for s, p in enumerate(parts):
            handles.append(transport.create(p, strength, (placement or [{}] * len(weights))[s]))
        transport.get([transport.call(h, "ready") for h in handles], timeout=READY_TIMEOUT_S)
    except BaseException:
        for h in handles:  # none is left holding rows the simulation no longer uses
            transport.end(h)
        raise
    rows = ShardedAgents(sim, transport, handles, bounds)
    for g in groups:  # the rows live in the shards now: any use of these says so
        g.cohort = g.history = g.visits = _InShards(g.kind.name)
    sim.agent_rows = rows
    return rows


def unshard(sim: Simulation) -> None:
    """Bring a sharded simulation's rows back into this process and end its shards."""
    rows = sim.agent_rows
    if not isinstance(rows, ShardedAgents):
        raise ConfigurationError("this simulation is not sharded")
    joined = rows.gather()
    for g in sim.population.groups:
        if g.code in joined:
            state, history, visits = joined[g.code]
            cohort = Cohort(g.kind.model, 0, g.kind.config)
            cohort.import_state(state)
            g.cohort, g.history, g.visits = cohort, history, visits
    rows.close()
    sim.agent_rows = LocalAgents(sim.population, sim.config.coalitions.strength)


class ShardedAgents:
    """:class:`~freeagentics.simulation._rows.AgentRows` whose rows live in shards.

    Attributes:
        bounds: per kind code, each shard's ``(start, stop)`` rows of the kind's group.
        last_comm: what the last exchange of each kind (``"act"``: inputs out, moves
            back; ``"metrics"``) cost: ``send_s`` (packing and handing the arguments to
            the transport: serialisation into the object store), ``wait_s`` (until every
            shard had answered), ``compute_s`` (each shard's own time on its rows),
            ``comm_s`` (``send_s + wait_s`` less the slowest shard's compute: what the
            distribution costs), ``bytes_out`` and ``bytes_in``.
    """

    def __init__(self, sim: Simulation, transport, handles: list, bounds: dict):
        self._sim = sim
        self._transport = transport
        self.handles = handles
        self.bounds = bounds
        self._pending: list = []  # calls not waited for; checked at the next wait
        self._last_prefs: dict[int, np.ndarray] = {}
        self.last_comm: dict[str, Any] = {}

    @property
    def shards(self) -> int:
        return len(self.handles)

    def _parts(self, code: int):
        """``(shard, start, stop)`` of the shards holding rows of kind ``code``."""
        return [(s, a, b) for s, (a, b) in enumerate(self.bounds[code]) if b > a]

    def _fire(self, shard: int, method: str, *args) -> None:
        self._pending.append(self._transport.call(self.handles[shard], method, *args))

    def _wait(self, calls: list) -> list:
        pending, self._pending = self._pending, []
        results = self._transport.get(pending + calls)
        return results[len(pending) :]

    def _exchange(self, method: str, payloads: dict[int, tuple], began: float) -> dict[int, Any]:
        """Call ``method`` on each shard of ``payloads`` with its arguments, wait for all,
        and record what it cost under ``last_comm[method]``; the answers by shard."""
        shards = list(payloads)
        calls = [self._transport.call(self.handles[s], method, *payloads[s]) for s in shards]
        handed = time.perf_counter()
        results = self._wait(calls)
        done = time.perf_counter()
        compute = [seconds for _, seconds in results]
        self.last_comm[method] = {
            "send_s": handed - began,
            "wait_s": done - handed,
            "compute_s": compute,
            "comm_s": max(0.0, done - began - max(compute, default=0.0)),
            "bytes_out": _nbytes(list(payloads.values())),
            "bytes_in": _nbytes([value for value, _ in results]),
        }
        return {s: value for s, (value, _) in zip(shards, results, strict=True)}

    # ------------------------------------------------------------------ AgentRows
    def act(self, groups: list[Group], inputs: list[GroupInputs]) -> list[np.ndarray]:
        began = time.perf_counter()
        per_shard: dict[int, dict[int, tuple]] = {}
        for g, x in zip(groups, inputs, strict=True):
            packed = pack_inputs(x)
            for s, a, b in self._parts(g.code):
                per_shard.setdefault(s, {})[g.code] = slice_packed(packed, a, b)
        moves = self._exchange("act", {s: (p,) for s, p in per_shard.items()}, began)
        return [
            np.concatenate([moves[s][g.code] for s, _, _ in self._parts(g.code)]).astype(np.int64)
            for g in groups
        ]

    def sense(self, groups: list[Group], refused: list[np.ndarray], tick: int) -> None:
        per_shard: list[dict[int, np.ndarray]] = [{} for _ in self.handles]
        for g, mask in zip(groups, refused, strict=True):
            for s, a, b in self._parts(g.code):
                per_shard[s][g.code] = mask[a:b]
        for s, masks in enumerate(per_shard):
            if masks:
                self._fire(s, "sense", masks, tick)

    def record_history(self, tick: int) -> None:
        for s in range(self.shards):
            self._fire(s, "record_history", tick)

    def set_preferences(self, group: Group, prefs: np.ndarray) -> None:
        """Sends only the rows that changed since the last call (all of them the first
        time), in the cohort's float type: what the cohort would have converted them to."""
        last = self._last_prefs.get(group.code)
        changed = (
            np.ones(group.n, bool)
            if last is None or last.shape != prefs.shape
            else np.any(prefs != last, axis=1)
        )
        self._last_prefs[group.code] = prefs.copy()
        values = prefs.astype(group.kind.config.float_type)
        for s, a, b in self._parts(group.code):
            rows = np.flatnonzero(changed[a:b])
            if rows.size:
                self._fire(s, "set_preferences", group.code, rows, values[a:b][rows])

    def metrics(self, groups: list[Group]) -> dict[int, dict[str, np.ndarray]]:
        began = time.perf_counter()
        results = self._exchange("metrics", {s: () for s in range(self.shards)}, began)
        out = {}
        for g in groups:
            parts = [results[s][g.code] for s, _, _ in self._parts(g.code)]
            out[g.code] = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
        return out

    def population_state(self) -> State:
        return self._sim.population.export_state(self.gather())

    def check_resizable(self) -> None:
        raise ConfigurationError(
            "a sharded simulation's population is fixed: unshard it, add or remove "
            "agents, and shard it again"
        )

    # ------------------------------------------------------------------ the rows
    def gather(self) -> dict[int, tuple[State, np.ndarray, np.ndarray]]:
        """Per kind code: the whole group's cohort state, history and visits, joined
        from the shards' rows (copies: the shards keep stepping theirs)."""
        exported = self._wait([self._transport.call(h, "export") for h in self.handles])
        out = {}
        for code in self.bounds:
            parts = [exported[s][code] for s, _, _ in self._parts(code)]
            out[code] = (
                join_rows([p[0] for p in parts]),
                np.concatenate([p[1] for p in parts]),
                np.concatenate([p[2] for p in parts]),
            )
        return out

    def close(self) -> None:
        """End the shards (their rows are lost: :func:`unshard` gathers them first)."""
        self._wait([])
        for h in self.handles:
            self._transport.end(h)
        self.handles = []


class _InShards:
    """Stands in a coordinator's group for rows that live in shards: any use says so."""

    def __init__(self, kind: str):
        self._kind = kind

    def _refuse(self, *_args, **_kwargs):
        raise ConfigurationError(
            f"the rows of kind {self._kind!r} live in shards: read them through "
            "export_state() or unshard() the simulation"
        )

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        self._refuse()

    __getitem__ = __setitem__ = __len__ = __array__ = __iter__ = _refuse


def _nbytes(value) -> int:
    """Bytes of the arrays in ``value`` (nested dicts, lists and tuples)."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values())
    if isinstance(value, list | tuple):
        return sum(_nbytes(v) for v in value)
    return 0


def _check_fits_bytes(sim: Simulation) -> None:
    """Outcome indices, cell codes and energy levels must fit the bytes they travel in."""
    top = np.iinfo(SMALL).max
    codes = int(Cell.RESOURCE) + len(sim.config.world.resources)
    for g in sim.population.groups:
        levels = len(g.kind.drives.hunger) if g.kind.drives is not None else 0
        if max(g.kind.model.num_obs[0], codes, levels) > top + 1:
            raise ConfigurationError(
                f"kind {g.kind.name!r}: outcomes, cell codes or energy levels over {top + 1} "
                "cannot be sharded"
            )


# ---------------------------------------------------------------------- transports
class _InProcess:
    """Shards as plain objects here; inputs made read-only as Ray's would be."""

    def create(self, parts: list[RowPart], strength: float, options: dict) -> ShardRows:
        return ShardRows(parts, strength)

    def call(self, handle: ShardRows, method: str, *args):
        return getattr(handle, method)(*_read_only(args))

    def get(self, calls: list, timeout: float | None = None) -> list:
        return calls

    def end(self, handle: ShardRows) -> None:
        """Nothing to end."""


class _Ray:
    """Shards as Ray actors (one per shard, no restarts: a lost shard's rows come back
    from a checkpoint, not from a fresh actor)."""

    def __init__(self):
        import ray

        if not ray.is_initialized():
            raise ConfigurationError("ray is not initialised: ray.init(address=...) first")
        self._ray = ray
        self._actor = ray.remote(ShardRows)

    def create(self, parts: list[RowPart], strength: float, options: dict):
        options = {"num_cpus": 1, "max_restarts": 0, **options}
        return self._actor.options(**options).remote(parts, strength)

    def call(self, handle, method: str, *args):
        return getattr(handle, method).remote(*args)

    def get(self, calls: list, timeout: float | None = None) -> list:
        return self._ray.get(calls, timeout=timeout)

    def end(self, handle) -> None:
        self._ray.kill(handle)


def _read_only(value):
    if isinstance(value, np.ndarray):
        view = value.view()
        view.flags.writeable = False
        return view
    if isinstance(value, dict):
        return {k: _read_only(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return type(value)(_read_only(v) for v in value)
    return value
