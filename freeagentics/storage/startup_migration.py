"""The migration a server runs as it starts: checked without Alembic, run apart when due.

Alembic, with the Mako and Pygments it brings, weighs some 10 MB in a process, and
what a process imports stays for its life; a server migrates once, at start, and
usually not at all (its database is at the head already). :func:`migrate_at_start`
reads the database's revision with plain SQL and compares it with the newest revision
shipped (read from the migration scripts' text, :func:`shipped_head`); only when they
differ does it migrate, in a child interpreter (this module run as a program, the URL
on its stdin: :mod:`._migration_child`) so that Alembic never loads in the server. A
database in memory, which no other process can reach, is migrated here.

``serve`` starts that child itself as it starts the simulation host, so that a new
database is migrated while the host imports its modules; the host then finds it at
the head.
"""

from __future__ import annotations

import ast
import re
import sys

import sqlalchemy as sa

from freeagentics.storage._location import MIGRATIONS
from freeagentics.storage._migration_child import MigrationFailed, finish_migration, start_migration
from freeagentics.storage.engine import create_engine_for, in_memory

__all__ = [
    "MigrationFailed",
    "database_revision",
    "migrate_at_start",
    "migrate_if_behind",
    "shipped_head",
]

_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.M)


def shipped_head() -> str | None:
    """The newest revision of the packaged migrations: the one no other revision names
    as its ``down_revision``; None unless the scripts' text names exactly one."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in sorted((MIGRATIONS / "versions").glob("*.py")):
        found = dict(m.groups() for m in _ASSIGNMENT.finditer(script.read_text()))
        try:
            revision = ast.literal_eval(found["revision"])
            down = ast.literal_eval(found.get("down_revision", "None"))
        except (KeyError, ValueError, SyntaxError):
            return None  # not a script this reading understands: let Alembic decide
        revisions.add(revision)
        parents.update(down if isinstance(down, tuple | list) else [] if down is None else [down])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def database_revision(engine: sa.Engine) -> str | None:
    """The revision Alembic recorded in the database (None: never migrated, or on
    several branches)."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        rows = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    return rows[0] if len(rows) == 1 else None


def _behind(engine: sa.Engine) -> tuple[bool, str | None]:
    at = database_revision(engine)
    return at is None or at != shipped_head(), at


def migrate_at_start(engine: sa.Engine) -> str | None:
    """Migrate the database behind ``engine`` to the head unless it is there already;
    the revision it is at afterwards.

    ``engine``'s URL must name the whole database (as ``create_engine_for(url)``
    without a schema makes it): the child opens the database from the URL alone.
    Raises :class:`MigrationFailed` when the child fails.
    """
    behind, at = _behind(engine)
    if not behind:
        return at
    if engine.url.get_backend_name() == "sqlite" and in_memory(engine.url):
        from freeagentics.storage.migrate import upgrade

        return upgrade(engine)
    finish_migration(start_migration(engine.url.render_as_string(hide_password=False)))
    return database_revision(engine)


def migrate_if_behind(url: str) -> str | None:
    """The child's work: migrate the database at ``url`` to the head, loading Alembic
    only when it is behind; the revision it is at afterwards."""
    engine = create_engine_for(url, pool_size=1, max_overflow=0)
    try:
        behind, at = _behind(engine)
        if not behind:
            return at
        from freeagentics.storage.migrate import upgrade

        return upgrade(engine)
    finally:
        engine.dispose()


def main() -> None:
    """Migrate the database whose URL is stdin's first line (see the module docstring)."""
    url = sys.stdin.readline().strip()
    if not url:
        sys.exit("freeagentics.storage.startup_migration: no database URL on stdin")
    migrate_if_behind(url)


if __name__ == "__main__":
    main()
