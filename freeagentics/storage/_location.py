"""Where the default database and the schema's migrations live (no SQLAlchemy: settings
name the database before any engine)."""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["DATABASE_URL_ENV", "DATA_DIR_ENV", "MIGRATIONS", "default_url", "display_url"]

DATABASE_URL_ENV = "FREEAGENTICS_DATABASE_URL"
DATA_DIR_ENV = "FREEAGENTICS_DATA_DIR"
#: the packaged Alembic scripts (``versions/`` holds one file per revision)
MIGRATIONS = Path(__file__).with_name("migrations")
#: ``scheme://user:password@``, split as SQLAlchemy splits it (the password ends at the first @)
_CREDENTIALS = re.compile(r"^([\w+]+://[^:/]*):[^@]*@")


def default_url(data_dir: str | Path | None = None) -> str:
    """``$FREEAGENTICS_DATABASE_URL``, else ``freeagentics.db`` in the data directory.

    The data directory is ``data_dir`` when given, else ``$FREEAGENTICS_DATA_DIR``, else
    ``~/.local/share/freeagentics`` (``$XDG_DATA_HOME`` respected); it is created when
    missing.
    """
    url = os.environ.get(DATABASE_URL_ENV)
    if url:
        return url
    base = data_dir or os.environ.get(DATA_DIR_ENV)
    if base:
        data = Path(base)
    else:
        xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        data = Path(xdg) / "freeagentics"
    data.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data / 'freeagentics.db'}"


def display_url(url: str) -> str:
    """``url`` with its password, if any, shown as ``***`` (as SQLAlchemy's
    ``render_as_string(hide_password=True)``), for messages; no SQLAlchemy needed."""
    return _CREDENTIALS.sub(r"\1:***@", url, count=1)
