"""One shard: rows ``start:stop`` of each kind's cohort, stepped where it lives.

:class:`ShardRows` is a plain object; :mod:`freeagentics.hosts.shards` runs one per Ray
actor (or in the caller's process). What crosses between the coordinator and a shard
each tick is a handful of compact arrays per kind (:func:`pack_inputs`, 17 bytes per
agent with drives, one without; moves come back as one byte per agent). Arrays read
from Ray's object store are read-only views of it, so nothing here writes to its
inputs: what the rows keep (beliefs, visit memory, history) is theirs.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from freeagentics.agents._bfloat16 import store_bfloat16
from freeagentics.agents.cohort import Cohort
from freeagentics.agents.kinds import AgentKind
from freeagentics.errors import ConfigurationError
from freeagentics.hosts._row_parts import RowSliceGenerator
from freeagentics.simulation._rows import GroupInputs, act_group, sense_group
from freeagentics.state import State

__all__ = ["PackedInputs", "RowPart", "ShardRows", "pack_inputs", "unpack_inputs"]

#: obs, contact and level travel as bytes: outcome indices, cell codes and energy levels
#: must fit (checked for each kind before sharding)
SMALL = np.uint8

#: ``(obs, contact, positions, level, food, objective)`` of some rows; the drive fields
#: are None for kinds without drives
PackedInputs = tuple


def pack_inputs(x: GroupInputs) -> PackedInputs:
    """The inputs as they travel: ``obs`` ``(n,)`` uint8, ``contact`` ``(n, 5)`` uint8,
    ``level`` ``(n,)`` uint8, the others as they are (``positions`` int32, bools)."""

    def small(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else a.astype(SMALL)

    return (small(x.obs[:, 0]), small(x.contact), x.positions, small(x.level), x.food, x.objective)


def slice_packed(packed: PackedInputs, start: int, stop: int) -> PackedInputs:
    return tuple(None if a is None else a[start:stop] for a in packed)


def unpack_inputs(packed: PackedInputs) -> GroupInputs:
    """:class:`GroupInputs` with the dtypes the simulation computed them in."""
    obs, contact, positions, level, food, objective = packed
    return GroupInputs(
        obs.astype(np.int64)[:, None],
        None if contact is None else contact.astype(np.int32),
        positions,
        None if level is None else level.astype(np.int64),
        food,
        objective,
    )


@dataclass
class RowPart:
    """Rows ``start:stop`` of the ``total`` rows of one kind's group (kind ``code``).

    Attributes:
        cohort: the rows' cohort state (:func:`~freeagentics.hosts._row_parts.rows_of`).
        history: ``(n, H, S)`` uint16 belief history; visits: ``(n, M, M)`` uint8.
    """

    code: int
    kind: AgentKind
    start: int
    stop: int
    total: int
    cohort: State
    history: np.ndarray
    visits: np.ndarray


class _Rows:
    """One kind's rows in a shard."""

    def __init__(self, part: RowPart):
        self.code, self.kind = part.code, part.kind
        self.start, self.stop, self.total = part.start, part.stop, part.total
        self.cohort = Cohort(part.kind.model, 0, part.kind.config)
        self.cohort.import_state(part.cohort)
        self.cohort.rng = RowSliceGenerator(self.cohort.rng, part.start, part.stop, part.total)
        self.history = np.array(part.history)  # owned and writable (inputs may be views)
        self.visits = np.array(part.visits)


class ShardRows:
    """The rows of several kinds held by one shard; see the module docstring.

    Args:
        parts: this shard's rows of each kind (kinds without rows here are left out).
        strength: the coalitions' pull on members with an objective.
    """

    def __init__(self, parts: list[RowPart], strength: float):
        self.rows = {p.code: _Rows(p) for p in parts}
        self.strength = strength

    def ready(self) -> dict[int, int]:
        """Rows held per kind code (answers once the shard is built)."""
        return {code: r.stop - r.start for code, r in self.rows.items()}

    def pid(self) -> int:
        """The process holding this shard."""
        return os.getpid()

    def nbytes(self) -> int:
        """Bytes of the rows' state held here (cohorts, histories, visit memories)."""
        total = 0
        for r in self.rows.values():
            state = r.cohort.export_state()
            total += sum(a.nbytes for a in state.arrays.values())
            total += r.history.nbytes + r.visits.nbytes
        return total

    def act(self, inputs: dict[int, PackedInputs]) -> tuple[dict[int, np.ndarray], float]:
        """Moves ``(n,)`` int8 per kind code from its packed inputs, and the seconds spent."""
        began = time.perf_counter()
        out = {}
        for code, packed in inputs.items():
            r = self.rows[code]
            moves = act_group(r.kind, r.cohort, r.visits, unpack_inputs(packed), self.strength)
            out[code] = moves.astype(np.int8)
        return out, time.perf_counter() - began

    def sense(self, refused: dict[int, np.ndarray], tick: int) -> None:
        for code, mask in refused.items():
            r = self.rows[code]
            sense_group(r.kind, r.cohort, r.visits, mask, tick, r.start)

    def record_history(self, tick: int) -> None:
        for r in self.rows.values():
            if r.history.shape[0]:
                store_bfloat16(r.cohort.qs[0], r.history[:, tick % r.history.shape[1], :])

    def set_preferences(self, code: int, rows: np.ndarray, values: np.ndarray) -> None:
        """Rows ``rows`` (of this shard's part) of the kind's preferences become ``values``
        ``(k, O)``, already in the cohort's float type; the first call sets them all."""
        cohort = self.rows[code].cohort
        if cohort.C_agents is None:
            if rows.size != cohort.n:
                raise ConfigurationError("the first preferences of a part must set every row")
            prefs = np.array(values)
        else:
            prefs = cohort.C_agents[0].copy()
            prefs[rows] = values
        cohort.set_preferences([prefs])

    def metrics(self) -> tuple[dict[int, dict[str, np.ndarray]], float]:
        """Per kind code the cohort's per-agent metrics, and the seconds spent."""
        began = time.perf_counter()
        out = {code: r.cohort.metrics() for code, r in self.rows.items()}
        return out, time.perf_counter() - began

    def export(self) -> dict[int, tuple[State, np.ndarray, np.ndarray]]:
        """Per kind code: its rows' cohort state, history and visits."""
        return {
            code: (r.cohort.export_state(), r.history, r.visits) for code, r in self.rows.items()
        }
