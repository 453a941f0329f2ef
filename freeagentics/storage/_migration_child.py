"""A child interpreter that migrates a database to the head, started without SQLAlchemy.

``python -m freeagentics.storage.startup_migration`` reads the database's URL from its
stdin and migrates it when it is behind (see
:mod:`freeagentics.storage.startup_migration`). Starting and awaiting it needs no
database library, so the process that starts a server (its API process, which never
opens the database) can run it while the simulation host imports its modules.
"""

from __future__ import annotations

import subprocess
import sys

from freeagentics._children import child_environment

__all__ = ["MigrationFailed", "finish_migration", "start_migration"]

#: characters of the child's error output kept in the exception
_ERROR_CHARS = 2000


class MigrationFailed(RuntimeError):
    """The child that migrated the database exited with an error (its output says why)."""


def start_migration(url: str) -> subprocess.Popen:
    """Start migrating the database at ``url`` (given on the child's stdin, never its
    command line); :func:`finish_migration` awaits it."""
    child = subprocess.Popen(
        [sys.executable, "-m", "freeagentics.storage.startup_migration"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=child_environment(),
    )
    assert child.stdin is not None
    try:
        child.stdin.write(url.encode() + b"\n")
        child.stdin.close()
    except OSError:
        pass  # it exited already: finish_migration says why
    return child


def finish_migration(child: subprocess.Popen) -> None:
    """Wait for ``child``; :class:`MigrationFailed` with its error output unless it
    succeeded."""
    assert child.stderr is not None
    with child.stderr:
        errors = child.stderr.read().decode(errors="replace")
    code = child.wait()
    if code != 0:
        raise MigrationFailed(
            f"migrating the database failed (exit {code}): {errors.strip()[-_ERROR_CHARS:]}"
        )
