"""Packages whose public names load with their module on first use (PEP 562).

A server's API process validates requests with the scenario's pydantic models but runs
no simulation: with lazy packages it never imports the kernels, numba or scipy, and
starts faster and smaller. ``from package import Name`` and ``package.Name`` work as
with eager imports; the first use imports the module that defines ``Name``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(
    package: str, names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: each name of ``names`` comes from the
    submodule it maps to (relative to the package, e.g. ``"._config"``)."""

    def __getattr__(name: str) -> Any:
        where = names.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where, package), name)
        setattr(sys.modules[package], name, value)  # the next lookup is a plain one
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__
