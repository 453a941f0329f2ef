"""``KnowledgeUpdater``: one simulation tick of population arrays -> a few graph writes.

What the graph holds (node type, key: properties)
    * ``agent``, ``str(agent_id)``: ``kind``, ``row``, ``col``, ``entropy``,
      ``energy`` (when given), ``coalition`` (-1 for none) -- the agent's latest
      *written* summary. Pinned: never evicted.
    * ``coalition``, ``str(coalition_id)``: ``size`` (current member count). Pinned.
    * ``location``, ``str(cell)``: ``cell``, ``resource``, ``first_seen``,
      ``last_seen``, ``sightings`` -- one node per cell where a resource was sighted,
      however often. Evictable: the least recently sighted are forgotten first.
    * ``observation``, ``f"{cell}:{name}"``: ``cell``, ``what``, ``first_seen``,
      ``last_seen``, ``count`` -- one node per (cell, kind of notable observation).
      Evictable.

Edges (``src -type-> dst``)
    * ``agent -member_of-> coalition``: the current membership only; it is removed
      and replaced when an agent changes coalition. Pinned.
    * ``agent -discovered-> location`` (``tick``): only from the first discoverer
      (the lowest agent id among the tick's sightings of a cell not in the graph).
    * ``agent -observed-> observation`` (``tick``): likewise, first observer only.

So the graph has ``O(agents + coalitions + distinct locations + distinct
observations)`` nodes and edges, never ``O(ticks)``; the evictable parts are
further capped by the store's capacity.

When an agent node is written
    Rows are compared, in numpy, with the summary last *written* for that agent.
    An agent is written when it is new, changes kind or coalition, its entropy or
    energy moved by more than ``entropy_threshold`` / ``energy_threshold``, or it
    moved at least ``move_threshold`` cells (Manhattan) -- and, whatever changed,
    on its refresh tick, ``(tick + agent_id) % refresh_every == 0``. The refresh
    rule staggers agents evenly over ``refresh_every`` ticks, so no summary is
    older than that, and a steady population costs about ``N / refresh_every``
    writes a tick plus those that changed, instead of ``N``. Kind and coalition
    are therefore always exact; entropy, energy and position within the
    thresholds. The exact per-tick state stays in the simulation's arrays.

Population
    Every ``ingest`` receives the whole live population. Agents present last tick
    and absent now have left: their nodes (and edges) are removed. A coalition
    whose member count drops to zero is removed. The updater's own state is a few
    arrays over the live agents plus one integer per live coalition.

If the store raises (e.g. :class:`CapacityError`) part way through a tick, the
writes already made stay; the updater keeps its previous state, so the next tick
rewrites what it did not record.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from freeagentics._checks import whole_number_at_least
from freeagentics.errors import ConfigurationError
from freeagentics.knowledge._store import KnowledgeStore
from freeagentics.state import CheckpointError, State

__all__ = ["IngestReport", "KnowledgeUpdater", "Sightings"]


@dataclass(frozen=True, slots=True)
class Sightings:
    """Things agents saw this tick, one entry per (agent, cell) sighting.

    Attributes:
        rows: (K,) int -- row of the seeing agent in this tick's agent arrays.
        cells: (K,) int -- flat index of the cell seen (``row * width + col``), ``>= 0``.
        codes: (K,) int -- what was seen, an index into the updater's name list
            (``resource_names`` for discoveries, ``observation_names`` for observations).
    """

    rows: np.ndarray
    cells: np.ndarray
    codes: np.ndarray


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What one :meth:`KnowledgeUpdater.ingest` wrote; ``seconds`` is its wall time."""

    tick: int
    agents_written: int
    agents_removed: int
    coalitions_written: int
    coalitions_removed: int
    locations_written: int
    observations_written: int
    edges_written: int
    edges_removed: int
    seconds: float


def _array(value: Any, name: str, kinds: str, shape: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in kinds:
        raise ConfigurationError(f"{name} must have a dtype of kind {kinds!r}, got {arr.dtype}")
    if arr.shape != shape:
        raise ConfigurationError(f"{name} must have shape {shape}, got {arr.shape}")
    return arr


def _names(values: Sequence[str], what: str) -> tuple[str, ...]:
    if isinstance(values, str) or not all(isinstance(v, str) and v for v in values):
        raise ConfigurationError(f"{what} must be a sequence of non-empty strings")
    return tuple(values)


def _threshold(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ConfigurationError(f"{what} must be a number >= 0, got {value!r}")
    return float(value)


class KnowledgeUpdater:
    """Turns each tick's population arrays into bounded updates of a :class:`KnowledgeStore`.

    Args:
        store: the graph to update; its ``pinned_types`` should include ``agent`` and
            ``coalition`` and its ``pinned_edge_types`` ``member_of`` (the defaults).
        kind_names: name of each agent kind code.
        resource_names: name of each resource code in ``discoveries``.
        observation_names: name of each code in ``observations``.
        refresh_every: an agent is rewritten at least every this many ticks (``>= 1``).
        entropy_threshold: belief-entropy change (nats) that triggers a rewrite.
        energy_threshold: energy change that triggers a rewrite.
        move_threshold: Manhattan distance (cells) that triggers a rewrite (``>= 1``).
    """

    def __init__(
        self,
        store: KnowledgeStore,
        *,
        kind_names: Sequence[str],
        resource_names: Sequence[str] = (),
        observation_names: Sequence[str] = (),
        refresh_every: int = 16,
        entropy_threshold: float = 0.1,
        energy_threshold: float = 1.0,
        move_threshold: int = 8,
    ) -> None:
        self._store = store
        # str ("U") arrays: their tolist() needs no per-value checks in the store
        self._kind_names = np.array(_names(kind_names, "kind_names"), dtype=str)
        if not len(self._kind_names):
            raise ConfigurationError("kind_names must name at least one kind")
        self._resource_names = np.array(_names(resource_names, "resource_names"), dtype=str)
        self._observation_names = _names(observation_names, "observation_names")
        self._refresh_every = whole_number_at_least("refresh_every", refresh_every, 1)
        self._move_threshold = whole_number_at_least("move_threshold", move_threshold, 1)
        self._entropy_threshold = _threshold(entropy_threshold, "entropy_threshold")
        self._energy_threshold = _threshold(energy_threshold, "energy_threshold")
        # last written summary of each live agent, in the row order of the last tick
        self._ids = np.empty(0, dtype=np.int64)
        self._kind = np.empty(0, dtype=np.int64)
        self._pos = np.empty((0, 2), dtype=np.int64)
        self._entropy = np.empty(0, dtype=np.float64)
        self._energy = np.empty(0, dtype=np.float64)
        self._coalition = np.empty(0, dtype=np.int64)
        self._coalition_size: dict[int, int] = {}
        self._last_tick = -1

    # the last summary written per agent: (N,) or (N, 2) arrays, in the last tick's row order
    _SUMMARY: ClassVar[dict[str, type]] = {
        "_ids": np.int64,
        "_kind": np.int64,
        "_pos": np.int64,
        "_entropy": np.float64,
        "_energy": np.float64,
        "_coalition": np.int64,
    }

    def export_state(self) -> State:
        """The summaries last written, coalition sizes and the last tick (not the store)."""
        arrays = {name[1:]: getattr(self, name) for name in self._SUMMARY}
        sizes = [[int(k), int(v)] for k, v in self._coalition_size.items()]
        return State(arrays, {"coalition_size": sizes, "last_tick": self._last_tick})

    def import_state(self, state: State) -> None:
        """Continue from a :meth:`export_state`; the store is restored on its own."""
        arrays = {name: state.array(name[1:], dtype) for name, dtype in self._SUMMARY.items()}
        n = arrays["_ids"].shape[0]
        if any(a.shape[:1] != (n,) for a in arrays.values()) or arrays["_pos"].shape != (n, 2):
            raise CheckpointError("knowledge updater summaries disagree in shape")
        try:
            sizes = {int(k): int(v) for k, v in state.value("coalition_size", list)}
        except (TypeError, ValueError):
            raise CheckpointError("knowledge updater coalition sizes are malformed") from None
        last_tick = state.value("last_tick", int)
        for name, array in arrays.items():
            setattr(self, name, array)
        self._coalition_size = sizes
        self._last_tick = last_tick

    @property
    def store(self) -> KnowledgeStore:
        return self._store

    @property
    def last_tick(self) -> int | None:
        """The tick of the last :meth:`ingest` that completed (``None`` before the first):
        the tick the graph reflects."""
        return self._last_tick if self._last_tick >= 0 else None

    def coalition_sizes(self) -> dict[int, int]:
        """Live coalition id -> member count, ascending id."""
        return dict(sorted(self._coalition_size.items()))

    def ingest(
        self,
        tick: int,
        *,
        agent_ids: np.ndarray,
        agent_kinds: np.ndarray,
        positions: np.ndarray,
        belief_entropy: np.ndarray,
        energy: np.ndarray | None = None,
        coalition: np.ndarray | None = None,
        discoveries: Sightings | None = None,
        observations: Sightings | None = None,
    ) -> IngestReport:
        """Fold one tick of the live population into the graph.

        Args:
            tick: simulation tick, not below the previous one; becomes the store's tick.
            agent_ids: (N,) int -- unique ids of every live agent.
            agent_kinds: (N,) int -- kind codes, indexes into ``kind_names``.
            positions: (N, 2) int -- (row, col) cell of each agent.
            belief_entropy: (N,) float -- entropy of each agent's state beliefs (nats).
            energy: (N,) float, or ``None`` to leave ``energy`` out.
            coalition: (N,) int -- coalition id of each agent, -1 for none;
                ``None`` means -1 for all.
            discoveries: resource sightings; ``codes`` index ``resource_names``.
            observations: notable observations; ``codes`` index ``observation_names``.

        Every argument is checked before anything is written; a bad one raises
        :class:`~freeagentics.errors.ConfigurationError`.
        """
        started = time.perf_counter()
        tick = whole_number_at_least("tick", tick, 0)
        if tick < self._last_tick:
            raise ConfigurationError(f"tick cannot go back from {self._last_tick} to {tick}")
        if np.ndim(agent_ids) != 1:
            raise ConfigurationError(f"agent_ids must be 1-D, got shape {np.shape(agent_ids)}")
        n = len(agent_ids)
        ids = _array(agent_ids, "agent_ids", "iu", (n,)).astype(np.int64)
        kinds = _array(agent_kinds, "agent_kinds", "iu", (n,)).astype(np.int64)
        if n and (kinds.min() < 0 or kinds.max() >= len(self._kind_names)):
            raise ConfigurationError(
                f"agent_kinds must be codes in [0, {len(self._kind_names)}), "
                f"got values in [{kinds.min()}, {kinds.max()}]"
            )
        pos = _array(positions, "positions", "iu", (n, 2)).astype(np.int64)
        entropy = _array(belief_entropy, "belief_entropy", "fiu", (n,)).astype(np.float64)
        if not np.isfinite(entropy).all():
            raise ConfigurationError("belief_entropy must be finite")
        if energy is not None:
            energy = _array(energy, "energy", "fiu", (n,)).astype(np.float64)
            if not np.isfinite(energy).all():
                raise ConfigurationError("energy must be finite")
        if coalition is None:
            coal = np.full(n, -1, dtype=np.int64)
        else:
            coal = _array(coalition, "coalition", "iu", (n,)).astype(np.int64)
            if n and coal.min() < -1:
                raise ConfigurationError("coalition ids must be >= 0, or -1 for none")
        disc = _sightings(discoveries, "discoveries", n, len(self._resource_names))
        obs = _sightings(observations, "observations", n, len(self._observation_names))
        prev, found, departed = self._match(ids)
        # last written state aligned with this tick's known rows: the arrays
        # themselves when the population is unchanged (the usual case), else a gather
        if prev is None:
            known: slice | np.ndarray = slice(None)

            def before(a: np.ndarray) -> np.ndarray:
                return a
        else:
            known = found
            p = prev[found]

            def before(a: np.ndarray) -> np.ndarray:
                return a[p]

        store = self._store
        store.set_tick(tick)
        edges_written = edges_removed = 0

        # --- which agents to write (see the module docstring)
        old_coal = np.full(n, -1, dtype=np.int64)
        old_coal[known] = before(self._coalition)
        coal_changed = coal != old_coal
        dirty = ~found | coal_changed | ((tick + ids) % self._refresh_every == 0)
        if found.any():
            changed = before(self._kind) != kinds[known]
            changed |= np.abs(before(self._entropy) - entropy[known]) > self._entropy_threshold
            changed |= np.abs(before(self._pos) - pos[known]).sum(axis=1) >= self._move_threshold
            if energy is not None:
                # NaN: energy was not given when this agent was last written
                gap = np.abs(before(self._energy) - energy[known])
                changed |= ~(gap <= self._energy_threshold)
            dirty[known] |= changed

        # --- departures (their edges go with their nodes)
        agents_removed = 0
        for nid in store.node_ids("agent", self._ids[departed]).tolist():
            if nid >= 0:
                store.remove_node(nid)
                agents_removed += 1

        # --- coalition sizes from the membership changes only
        sizes = dict(self._coalition_size)
        touched: set[int] = set()
        left = np.concatenate([old_coal[coal_changed], self._coalition[departed]])
        joined = coal[coal_changed]
        for members, sign in ((left, -1), (joined, 1)):
            cids, counts = np.unique(members[members >= 0], return_counts=True)
            for cid, count in zip(cids.tolist(), counts.tolist(), strict=True):
                sizes[cid] = sizes.get(cid, 0) + sign * count
                touched.add(cid)
        alive = sorted(c for c in touched if sizes[c] > 0)
        dead = sorted(c for c in touched if sizes[c] <= 0)
        for cid in dead:
            del sizes[cid]
            nid = store.node_id("coalition", cid)
            if nid is not None:
                store.remove_node(nid)  # with the member_of edges still pointing at it
        coalition_nid: dict[int, int] = {}
        if alive:
            nids = store.upsert_nodes("coalition", alive, {"size": [sizes[c] for c in alive]})
            coalition_nid = dict(zip(alive, nids.tolist(), strict=True))

        # --- agent summaries
        rows = np.flatnonzero(dirty)
        agent_nid = np.full(n, -1, dtype=np.int64)
        if len(rows):
            props: dict[str, Any] = {
                "kind": self._kind_names[kinds[rows]],
                "row": pos[rows, 0],
                "col": pos[rows, 1],
                "entropy": entropy[rows],
                "coalition": coal[rows],
            }
            if energy is not None:
                props["energy"] = energy[rows]
            agent_nid[rows] = store.upsert_nodes("agent", ids[rows], props)

        # --- membership edges: drop the old one (unless its coalition is gone), add the new
        moved = np.flatnonzero(coal_changed)  # all of them were just written
        leave = moved[np.isin(old_coal[moved], np.asarray(alive, dtype=np.int64))]
        if len(leave):
            edges_removed += store.remove_edges(
                agent_nid[leave],
                [coalition_nid[c] for c in old_coal[leave].tolist()],
                "member_of",
                missing_ok=True,
            )
        join = moved[coal[moved] >= 0]
        if len(join):
            store.upsert_edges(
                agent_nid[join], [coalition_nid[c] for c in coal[join].tolist()], "member_of"
            )
            edges_written += len(join)

        # --- aggregated sightings
        locations = observed = 0
        if disc is not None:
            resource = self._resource_names
            locations, added = self._fold(
                tick,
                disc,
                ids,
                disc.cells,
                "location",
                "discovered",
                "sightings",
                lambda cells, codes: [str(c) for c in cells.tolist()],
                lambda cells, codes: {"cell": cells, "resource": resource[codes]},
            )
            edges_written += added
        if obs is not None:
            names = self._observation_names
            what = np.array(names, dtype=str)
            observed, added = self._fold(
                tick,
                obs,
                ids,
                obs.cells * len(names) + obs.codes,
                "observation",
                "observed",
                "count",
                lambda cells, codes: [
                    f"{c}:{names[k]}" for c, k in zip(cells.tolist(), codes.tolist(), strict=True)
                ],
                lambda cells, codes: {"cell": cells, "what": what[codes]},
            )
            edges_written += added

        self._commit(ids, prev, dirty, kinds, pos, entropy, energy, coal, sizes, tick)
        return IngestReport(
            tick=tick,
            agents_written=len(rows),
            agents_removed=agents_removed,
            coalitions_written=len(alive),
            coalitions_removed=len(dead),
            locations_written=locations,
            observations_written=observed,
            edges_written=edges_written,
            edges_removed=edges_removed,
            seconds=time.perf_counter() - started,
        )

    def _match(self, ids: np.ndarray) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """Align this tick's rows with the last tick's.

        Returns:
            prev: (N,) int64 -- the last tick's row of each agent, -1 if new;
                ``None`` when the rows are exactly last tick's.
            found: (N,) bool -- ``prev >= 0``.
            departed: (D,) int64 -- the last tick's rows of agents absent now.
        """
        n, m = len(ids), len(self._ids)
        if n == m and np.array_equal(ids, self._ids):
            # the usual case: same population in the same order, O(N) and no sort
            return None, np.ones(n, dtype=bool), np.empty(0, dtype=np.int64)
        srt = np.sort(ids)
        repeated = srt[1:][srt[1:] == srt[:-1]]
        if len(repeated):
            raise ConfigurationError(f"agent_ids must be unique; {repeated[0]} repeats")
        if m == 0:
            return np.full(n, -1), np.zeros(n, dtype=bool), np.empty(0, dtype=np.int64)
        sorter = np.argsort(self._ids)
        at = np.minimum(np.searchsorted(self._ids, ids, sorter=sorter), m - 1)
        candidate = sorter[at]
        found = self._ids[candidate] == ids
        kept = np.zeros(m, dtype=bool)
        kept[candidate[found]] = True
        return np.where(found, candidate, -1), found, np.flatnonzero(~kept)

    def _fold(
        self,
        tick: int,
        s: Sightings,
        ids: np.ndarray,
        item: np.ndarray,
        node_type: str,
        edge_type: str,
        count_name: str,
        node_keys: Callable[[np.ndarray, np.ndarray], list[str]],
        static: Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]],
    ) -> tuple[int, int]:
        """Aggregate sightings into one node per distinct ``item``; return (nodes, edges) written.

        ``item`` is (K,) int64, equal for sightings of the same node.
        """
        # sorted by (item, agent id), each item's first sighting is by its lowest-id finder
        order = np.lexsort((ids[s.rows], item))
        _, first, counts = np.unique(item[order], return_index=True, return_counts=True)
        lead = order[first]
        cells, codes, finders = s.cells[lead], s.codes[lead], s.rows[lead]
        keys = node_keys(cells, codes)
        store = self._store
        existing = store.node_ids(node_type, keys)
        first_seen = np.full(len(keys), tick, dtype=np.int64)
        total = counts.astype(np.int64)
        # read-modify-write of the running counts: one read per distinct item seen
        seen = np.flatnonzero(existing >= 0)
        for i, node in zip(seen.tolist(), store.get_nodes(existing[seen]), strict=True):
            first_seen[i] = _int(node.properties.get("first_seen"), tick)
            total[i] += _int(node.properties.get(count_name), 0)
        props = {
            **static(cells, codes),
            "first_seen": first_seen,
            "last_seen": tick,
            count_name: total,
        }
        nids = store.upsert_nodes(node_type, keys, props)
        new = existing < 0
        if not new.any():
            return len(keys), 0
        # finders are live agents, written when they first appeared and never evicted
        finder_nids = store.node_ids("agent", ids[finders[new]])
        ok = finder_nids >= 0
        store.upsert_edges(finder_nids[ok], nids[new][ok], edge_type, {"tick": tick})
        return len(keys), int(ok.sum())

    def _commit(
        self,
        ids: np.ndarray,
        prev: np.ndarray | None,
        dirty: np.ndarray,
        kinds: np.ndarray,
        pos: np.ndarray,
        entropy: np.ndarray,
        energy: np.ndarray | None,
        coal: np.ndarray,
        sizes: dict[int, int],
        tick: int,
    ) -> None:
        """Remember the summaries as last written (only after every write succeeded)."""
        if prev is None:
            # same rows as last tick: patch the written rows in place
            rows = np.flatnonzero(dirty)
            self._kind[rows] = kinds[rows]
            self._pos[rows] = pos[rows]
            self._entropy[rows] = entropy[rows]
            if energy is None:
                self._energy.fill(np.nan)
            else:
                self._energy[rows] = energy[rows]
        else:
            keep = ~dirty  # rows not written this tick, all known from the last tick
            p = prev[keep]
            # the arrays are private copies made by ingest, safe to fill in place
            kinds[keep] = self._kind[p]
            pos[keep] = self._pos[p]
            entropy[keep] = self._entropy[p]
            if energy is None:
                energy = np.full(len(ids), np.nan)
            else:
                energy[keep] = self._energy[p]
            self._ids, self._kind, self._pos = ids, kinds, pos
            self._entropy, self._energy = entropy, energy
        self._coalition = coal
        self._coalition_size = sizes
        self._last_tick = tick


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _sightings(value: Sightings | None, what: str, n: int, n_codes: int) -> Sightings | None:
    """Checked int64 copy of ``value``; ``None`` when absent or empty."""
    if value is None:
        return None
    if not isinstance(value, Sightings):
        raise ConfigurationError(f"{what} must be a Sightings, got {type(value).__name__}")
    if np.ndim(value.rows) != 1:
        raise ConfigurationError(f"{what}.rows must be 1-D, got shape {np.shape(value.rows)}")
    k = len(value.rows)
    rows = _array(value.rows, f"{what}.rows", "iu", (k,)).astype(np.int64)
    cells = _array(value.cells, f"{what}.cells", "iu", (k,)).astype(np.int64)
    codes = _array(value.codes, f"{what}.codes", "iu", (k,)).astype(np.int64)
    if k == 0:
        return None
    if rows.min() < 0 or rows.max() >= n:
        raise ConfigurationError(f"{what}.rows must be agent rows in [0, {n})")
    if cells.min() < 0:
        raise ConfigurationError(f"{what}.cells must be >= 0")
    if codes.min() < 0 or codes.max() >= n_codes:
        raise ConfigurationError(f"{what}.codes must be in [0, {n_codes}), the names given")
    return Sightings(rows, cells, codes)
