"""Persistence of simulations, agents, coalitions, beliefs, metrics and knowledge graphs.

SQLite (embedded, the default) and PostgreSQL share one code path through SQLAlchemy 2.
The schema is :data:`metadata` (``tables.py``), created and evolved by the packaged
Alembic migrations (:func:`upgrade`, ``freeagentics db upgrade``). Repositories are
small modules of functions taking a connection: :mod:`.simulations`, :mod:`.agents`,
:mod:`.coalitions`, :mod:`.beliefs`, :mod:`.metrics`, :mod:`.checkpoints`; a running
simulation is stored by one :class:`StorageWriter`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from freeagentics.storage.engine import create_engine_for, default_url, is_postgres
from freeagentics.storage.migrate import current, head, upgrade
from freeagentics.storage.tables import metadata

if TYPE_CHECKING:
    from freeagentics.storage.writer import StorageWriter

__all__ = [
    "StorageWriter",
    "create_engine_for",
    "current",
    "default_url",
    "head",
    "is_postgres",
    "metadata",
    "upgrade",
]


def __getattr__(name: str):
    # The writer pulls in the repositories; importing tables alone stays light.
    if name == "StorageWriter":
        from freeagentics.storage.writer import StorageWriter

        return StorageWriter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
