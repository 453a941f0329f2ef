"""Membership events as arrays, and a fixed-size ring buffer of the latest ones."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from freeagentics._checks import whole_number_at_least

__all__ = ["CoalitionEvents", "EventLog"]


class CoalitionEvents(NamedTuple):
    """A batch of ``E`` membership events, one row per event, in the order they happened.

    Attributes:
        tick: ``(E,)`` int64 tick of the event.
        kind: ``(E,)`` int8 :class:`EventKind` code.
        agent: ``(E,)`` int64 agent index at the time of the event, ``-1`` for FORM/DISSOLVE.
        coalition: ``(E,)`` int64 coalition id.
    """

    tick: np.ndarray
    kind: np.ndarray
    agent: np.ndarray
    coalition: np.ndarray

    @classmethod
    def empty(cls) -> CoalitionEvents:
        """A batch with no events."""
        return cls.build(0, np.empty(0, np.int8), np.empty(0, np.int64), np.empty(0, np.int64))

    @classmethod
    def build(
        cls, tick: int, kind: np.ndarray, agent: np.ndarray, coalition: np.ndarray
    ) -> CoalitionEvents:
        """Events that all happen at ``tick``; ``kind``, ``agent``, ``coalition`` are ``(E,)``."""
        kind = np.asarray(kind, dtype=np.int8)
        return cls(
            np.full(kind.shape[0], tick, dtype=np.int64),
            kind,
            np.asarray(agent, dtype=np.int64),
            np.asarray(coalition, dtype=np.int64),
        )

    @classmethod
    def concat(cls, batches: list[CoalitionEvents]) -> CoalitionEvents:
        """One batch holding ``batches`` in order."""
        if not batches:
            return cls.empty()
        return cls(*(np.concatenate(cols) for cols in zip(*batches, strict=True)))

    def __len__(self) -> int:  # NamedTuple's len would be the field count
        return int(self.kind.shape[0])


class EventLog:
    """The last ``capacity`` events, in four preallocated arrays.

    Memory is fixed at construction: appending overwrites the oldest events, so a
    long run never grows it. ``total`` counts every event ever appended.
    """

    __slots__ = ("_agent", "_coalition", "_kind", "_tick", "capacity", "total")

    def __init__(self, capacity: int) -> None:
        self.capacity = whole_number_at_least("history", capacity, 1)
        self.total = 0
        self._tick = np.zeros(self.capacity, dtype=np.int64)
        self._kind = np.zeros(self.capacity, dtype=np.int8)
        self._agent = np.zeros(self.capacity, dtype=np.int64)
        self._coalition = np.zeros(self.capacity, dtype=np.int64)

    def __len__(self) -> int:
        return min(self.total, self.capacity)

    def append(self, events: CoalitionEvents) -> None:
        """Store a batch, overwriting the oldest events once the buffer is full."""
        count = len(events)
        if count == 0:
            return
        # only the newest ``capacity`` events of an oversized batch can survive
        keep = min(count, self.capacity)
        slots = (self.total + count - keep + np.arange(keep)) % self.capacity
        for buf, col in zip(
            (self._tick, self._kind, self._agent, self._coalition), events, strict=True
        ):
            buf[slots] = col[count - keep :]
        self.total += count

    def events(self) -> CoalitionEvents:
        """The stored events, oldest first, as copies of shape ``(len(self),)``."""
        size = len(self)
        order = (self.total - size + np.arange(size)) % self.capacity
        return CoalitionEvents(
            self._tick[order], self._kind[order], self._agent[order], self._coalition[order]
        )
