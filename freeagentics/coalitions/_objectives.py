"""Coalition objectives: one frozen record per objective, one array table per set."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from freeagentics._checks import whole_number_at_least
from freeagentics.errors import ConfigurationError, UnknownIdError

__all__ = ["OBJECTIVE_KINDS", "Objective", "ObjectiveSet", "capable_mask", "match_score"]

OBJECTIVE_KINDS: tuple[str, ...] = ("reach_cell", "collect_resource", "explore_region")


@dataclass(frozen=True)
class Objective:
    """What a coalition is formed for.

    ``target`` is the ``(x, y)`` point agents gather around (the cell to reach, the
    resource, the centre of the region). ``required`` has one minimum level per
    capability, shape ``(K,)``: an agent can serve only if
    ``capabilities[k] >= required[k]`` for every ``k`` (``0`` means "not needed").
    ``capacity`` is the maximum number of members; objectives with higher
    ``priority`` are served first by priority-aware strategies.
    """

    id: int
    kind: str
    target: tuple[float, float]
    required: tuple[float, ...] = field(default=())
    capacity: int = 1
    priority: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", whole_number_at_least("Objective id", self.id, 0))
        if self.kind not in OBJECTIVE_KINDS:
            raise ConfigurationError(
                f"Objective kind must be one of {OBJECTIVE_KINDS}, got {self.kind!r}"
            )
        target = tuple(float(v) for v in np.asarray(self.target, dtype=np.float64).ravel())
        if len(target) != 2 or not all(math.isfinite(v) for v in target):
            raise ConfigurationError(
                f"Objective target must be two finite numbers (x, y), got {self.target!r}"
            )
        object.__setattr__(self, "target", target)
        required = tuple(float(v) for v in np.asarray(self.required, dtype=np.float64).ravel())
        if not all(math.isfinite(v) and v >= 0.0 for v in required):
            raise ConfigurationError(
                f"Objective required must hold finite levels >= 0, got {self.required!r}"
            )
        object.__setattr__(self, "required", required)
        capacity = whole_number_at_least("Objective capacity", self.capacity, 1)
        object.__setattr__(self, "capacity", capacity)
        if not math.isfinite(float(self.priority)):
            raise ConfigurationError(f"Objective priority must be finite, got {self.priority!r}")
        object.__setattr__(self, "priority", float(self.priority))


class ObjectiveSet:
    """A fixed set of ``M`` objectives laid out as arrays, row ``m`` per objective.

    Attributes (read-only arrays):
        ids: ``(M,)`` int64 objective ids, unique.
        kinds: ``tuple[str, ...]`` of length ``M``.
        targets: ``(M, 2)`` float64.
        required: ``(M, K)`` float64 minimum capability levels.
        capacity: ``(M,)`` int64.
        priority: ``(M,)`` float64.
    """

    __slots__ = ("capacity", "ids", "kinds", "objectives", "priority", "required", "targets")

    def __init__(self, objectives: Iterable[Objective], num_capabilities: int) -> None:
        k = whole_number_at_least("num_capabilities", num_capabilities, 0)
        objs: tuple[Objective, ...] = tuple(objectives)
        required = np.zeros((len(objs), k), dtype=np.float64)
        for m, obj in enumerate(objs):
            if not isinstance(obj, Objective):
                raise ConfigurationError(f"objectives must hold Objective records, got {obj!r}")
            # an empty ``required`` means "no requirement" whatever K is
            if obj.required and len(obj.required) != k:
                raise ConfigurationError(
                    f"Objective {obj.id} required has {len(obj.required)} levels, "
                    f"expected num_capabilities={k}"
                )
            if obj.required:
                required[m] = obj.required
        ids = np.array([o.id for o in objs], dtype=np.int64)
        if np.unique(ids).size != ids.size:
            raise ConfigurationError(f"Objective ids must be unique, got {ids.tolist()}")
        self.objectives = objs
        self.ids = ids
        self.kinds = tuple(o.kind for o in objs)
        self.targets = np.array([o.target for o in objs], dtype=np.float64).reshape(-1, 2)
        self.required = required
        self.capacity = np.array([o.capacity for o in objs], dtype=np.int64)
        self.priority = np.array([o.priority for o in objs], dtype=np.float64)
        for arr in (self.ids, self.targets, self.required, self.capacity, self.priority):
            arr.flags.writeable = False

    def __len__(self) -> int:
        return len(self.objectives)

    @property
    def num_capabilities(self) -> int:
        """``K``, the length of every capability vector."""
        return self.required.shape[1]

    def subset(self, rows: np.ndarray) -> ObjectiveSet:
        """The objectives at ``rows`` (``(r,)`` int), in that order, as a new set."""
        rows = np.asarray(rows, dtype=np.int64)
        out = object.__new__(ObjectiveSet)
        out.objectives = tuple(self.objectives[r] for r in rows)
        out.kinds = tuple(self.kinds[r] for r in rows)
        for name in ("ids", "targets", "required", "capacity", "priority"):
            arr = getattr(self, name)[rows]
            arr.flags.writeable = False
            setattr(out, name, arr)
        return out

    def rows_of(self, ids: int | Sequence[int] | np.ndarray) -> np.ndarray:
        """Row index of each objective id; raises :class:`UnknownIdError` for an unknown id.

        Args:
            ids: scalar or ``(n,)`` objective ids.

        Returns:
            ``(n,)`` int64 rows into this set's arrays.
        """
        query = np.atleast_1d(np.asarray(ids, dtype=np.int64))
        order = np.argsort(self.ids, kind="stable")
        pos = np.searchsorted(self.ids[order], query)
        pos = np.minimum(pos, max(len(order) - 1, 0))
        found = self.ids[order[pos]] == query if len(order) else np.zeros(query.shape, dtype=bool)
        if not np.all(found):
            raise UnknownIdError(f"unknown objective id {int(query[~found][0])}")
        return order[pos]


def capable_mask(capabilities: np.ndarray, required: np.ndarray) -> np.ndarray:
    """Which agents meet every required level.

    Args:
        capabilities: ``(n, K)`` capability levels.
        required: ``(K,)`` minimum levels (``0`` = not needed).

    Returns:
        ``(n,)`` bool.
    """
    return np.all(capabilities >= required, axis=1)


def match_score(capabilities: np.ndarray, required: np.ndarray) -> np.ndarray:
    """How well agents fit an objective: their summed level on the required capabilities.

    An objective with no requirement scores every agent ``0``.

    Args:
        capabilities: ``(n, K)`` capability levels.
        required: ``(K,)`` minimum levels.

    Returns:
        ``(n,)`` float64.
    """
    return capabilities @ (required > 0).astype(np.float64)
