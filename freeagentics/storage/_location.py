"""Where the default database lives (no SQLAlchemy: settings name it before any engine)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATABASE_URL_ENV", "DATA_DIR_ENV", "default_url"]

DATABASE_URL_ENV = "FREEAGENTICS_DATABASE_URL"
DATA_DIR_ENV = "FREEAGENTICS_DATA_DIR"


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
