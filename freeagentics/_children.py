"""The environment of a child interpreter that must run this process's code."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["child_environment"]

#: the folder holding the ``freeagentics`` package, first on the child's import path so
#: that the child runs the same code as this process
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])


def child_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) with this package first on the import path, so
    that a child program runs the same code as this process."""
    out = dict(os.environ if env is None else env)
    path = out.get("PYTHONPATH")
    out["PYTHONPATH"] = _PACKAGE_ROOT + (os.pathsep + path if path else "")
    return out
