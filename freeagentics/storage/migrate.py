"""Apply and inspect the schema migrations that ship inside the package.

No ``alembic.ini`` is needed: the configuration is built here. Developers who want the
``alembic`` command line can use the ``alembic.ini`` at the repository root.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL

from freeagentics.storage._location import MIGRATIONS
from freeagentics.storage.engine import create_engine_for
from freeagentics.storage.tables import metadata

__all__ = [
    "MIGRATIONS",
    "alembic_config",
    "current",
    "foreign_keys_off",
    "head",
    "include_object",
    "schema_diff",
    "upgrade",
]


def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic configuration pointing at the packaged migrations (and ``url``)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        # ConfigParser interpolates "%": escape it (passwords may contain it).
        rendered = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def head() -> str:
    """The newest revision shipped with this version of FreeAgentics."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade(target: Engine | str | URL | None = None, revision: str = "head") -> str | None:
    """Migrate the database at ``target`` (engine or URL; default URL) up to ``revision``.

    Returns the revision the database is at afterwards.
    """
    engine, owned = _engine(target)
    try:
        with engine.connect() as conn, foreign_keys_off(conn), conn.begin():
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
        return current(engine)
    finally:
        if owned:
            engine.dispose()


@contextlib.contextmanager
def foreign_keys_off(conn: Connection) -> Iterator[None]:
    """On SQLite, migrate with foreign keys off (outside the transaction, where SQLite
    reads the pragma): a migration that copies a parent table into a new one drops the
    old table, and with foreign keys on that drop would delete every child row. The
    keys are checked after the migration, then turned back on."""
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.driver_connection
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"migration left rows without their parent: {broken[:5]}")
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


def current(target: Engine | str | URL | None = None) -> str | None:
    """The revision the database at ``target`` is at, None when never migrated."""
    engine, owned = _engine(target)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        if owned:
            engine.dispose()


def _engine(target: Engine | str | URL | None) -> tuple[Engine, bool]:
    if isinstance(target, Engine):
        return target, False
    return create_engine_for(target, pool_size=1, max_overflow=0), True


def include_object(dialect: str):
    """Alembic ``include_object`` hook leaving out objects meant for other dialects."""

    def include(obj, name, type_, reflected, compare_to) -> bool:
        only = getattr(obj, "info", {}).get("only_on")
        return only is None or only == dialect

    return include


def schema_diff(conn: Connection) -> list:
    """Differences between the database behind ``conn`` and :data:`metadata` (empty: same)."""
    context = MigrationContext.configure(
        conn,
        opts={"compare_type": True, "include_object": include_object(conn.dialect.name)},
    )
    return compare_metadata(context, metadata)
