"""Files the load test's processes signal each other with (``go``, ``ready-K``, ``stop``).

A reader polls for a file to exist and then reads it, so a file must never exist
half-written: :func:`publish` writes a temporary name in the same folder and renames
it into place, which POSIX makes atomic.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["publish"]


def publish(path: Path, text: str) -> None:
    """Make ``path`` hold ``text``, appearing whole or not at all."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(text)
    os.replace(partial, path)
