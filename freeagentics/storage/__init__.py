"""Persistence of simulations, agents, coalitions, beliefs, metrics and knowledge graphs.

SQLite (embedded, the default) and PostgreSQL share one code path through SQLAlchemy 2.
The schema is :data:`metadata` (``tables.py``), created and evolved by the packaged
Alembic migrations (:func:`upgrade`, ``freeagentics db upgrade``). Repositories are
small modules of functions taking a connection: :mod:`.simulations`, :mod:`.agents`,
:mod:`.coalitions`, :mod:`.beliefs`, :mod:`.metrics`, :mod:`.checkpoints`; a running
simulation is stored by one :class:`StorageWriter`.
"""

from __future__ import annotations

from freeagentics._lazy import lazy_names

__all__ = [
    "MigrationFailed",
    "StorageWriter",
    "create_engine_for",
    "current",
    "database_state",
    "default_url",
    "display_url",
    "finish_migration",
    "head",
    "is_postgres",
    "metadata",
    "start_migration",
    "upgrade",
]

# the names load with their modules on first use (see freeagentics._lazy): naming the
# default database (the settings do) needs neither SQLAlchemy nor the writer
__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "MigrationFailed": "._migration_child",
        "finish_migration": "._migration_child",
        "start_migration": "._migration_child",
        "StorageWriter": ".writer",
        "create_engine_for": ".engine",
        "database_state": ".engine",
        "default_url": "._location",
        "display_url": "._location",
        "is_postgres": ".engine",
        "current": ".migrate",
        "head": ".migrate",
        "upgrade": ".migrate",
        "metadata": ".tables",
    },
)
