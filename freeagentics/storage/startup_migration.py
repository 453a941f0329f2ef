"""The migration a server runs as it starts: checked without Alembic, run apart when due.

Alembic, with the Mako and Pygments it brings, weighs some 10 MB in a process, and
what a process imports stays for its life; a server migrates once, at start, and
usually not at all (its database is at the head already). :func:`migrate_at_start`
reads the database's revision with plain SQL and compares it with the newest revision
shipped (read from the migration scripts' text, :func:`shipped_head`); only when they
differ does it migrate, in a child interpreter (``python -m
freeagentics.storage.migrate``, the URL on its stdin) so that Alembic never loads in
the server. A database in memory, which no other process can reach, is migrated here.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from freeagentics._children import child_environment
from freeagentics.storage.engine import in_memory

__all__ = ["MIGRATIONS", "MigrationFailed", "database_revision", "migrate_at_start", "shipped_head"]

#: the packaged Alembic scripts (``versions/`` holds one file per revision)
MIGRATIONS = Path(__file__).with_name("migrations")
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.M)
#: characters of the child's error output kept in the exception
_ERROR_CHARS = 2000


class MigrationFailed(RuntimeError):
    """The child that migrated the database exited with an error (its output says why)."""


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


def migrate_at_start(engine: sa.Engine) -> str | None:
    """Migrate the database behind ``engine`` to the head unless it is there already;
    the revision it is at afterwards.

    ``engine``'s URL must name the whole database (as ``create_engine_for(url)``
    without a schema makes it): the child opens the database from the URL alone.
    Raises :class:`MigrationFailed` when the child fails.
    """
    at = database_revision(engine)
    if at is not None and at == shipped_head():
        return at
    if engine.url.get_backend_name() == "sqlite" and in_memory(engine.url):
        from freeagentics.storage.migrate import upgrade

        return upgrade(engine)
    _migrate_in_child(engine.url.render_as_string(hide_password=False))
    return database_revision(engine)


def _migrate_in_child(url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "freeagentics.storage.migrate"],
        input=url + "\n",
        capture_output=True,
        text=True,
        env=child_environment(),
    )
    if done.returncode != 0:
        raise MigrationFailed(
            f"migrating the database failed (exit {done.returncode}): "
            f"{done.stderr.strip()[-_ERROR_CHARS:]}"
        )
