"""A bounded LRU cache of query results, invalidated by a store's write counter.

The store bumps an integer ``version`` on every write; the cache remembers the
version its entries were computed at and drops them all the first time it is used
with a newer one. A write therefore costs one integer increment, whatever the cache
holds, and the cache never holds more than ``maxsize`` entries, so it cannot leak.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from freeagentics._checks import whole_number_at_least

__all__ = ["MISS", "CacheInfo", "QueryCache"]

MISS: Any = object()
"""Returned by :meth:`QueryCache.get` when there is no current entry."""


@dataclass(frozen=True, slots=True)
class CacheInfo:
    """Counters of a :class:`QueryCache`.

    ``invalidations`` counts the times a newer version emptied the cache.
    """

    hits: int
    misses: int
    size: int
    maxsize: int
    invalidations: int


class QueryCache:
    """LRU mapping of hashable keys to results, at most ``maxsize`` entries.

    ``maxsize == 0`` disables caching: nothing is stored.
    """

    def __init__(self, maxsize: int = 1024) -> None:
        self._maxsize = whole_number_at_least("cache maxsize", maxsize, 0)
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._version = 0
        self._hits = 0
        self._misses = 0
        self._invalidations = 0

    def _sync(self, version: int) -> None:
        if version != self._version:
            if self._entries:
                self._entries = OrderedDict()
                self._invalidations += 1
            self._version = version

    def get(self, key: Hashable, version: int) -> Any:
        """The entry for ``key`` computed at ``version``, or :data:`MISS`."""
        self._sync(version)
        value = self._entries.get(key, MISS)
        if value is MISS:
            self._misses += 1
        else:
            self._hits += 1
            self._entries.move_to_end(key)
        return value

    def put(self, key: Hashable, version: int, value: Any) -> None:
        """Store ``value`` for ``key`` at ``version``, evicting the least recently used."""
        if self._maxsize == 0:
            return
        self._sync(version)
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self._maxsize:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def info(self) -> CacheInfo:
        return CacheInfo(
            self._hits, self._misses, len(self._entries), self._maxsize, self._invalidations
        )
