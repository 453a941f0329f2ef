"""Path-aware reading of a parsed specification: every problem names where it is.

A *path* locates a value inside the specification the way it is written
(``modalities[1].likelihood[3].p``); every helper here takes the path of the value
it reads and raises :class:`~freeagentics.errors.SpecError` with that path at the
front of the message.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from freeagentics.errors import SpecError

__all__ = [
    "as_int",
    "as_list",
    "as_mapping",
    "as_name",
    "as_names",
    "as_number",
    "check_keys",
    "fail",
    "join",
    "listing",
]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def fail(path: str, message: str) -> NoReturn:
    """Raise a :class:`SpecError` located at ``path``."""
    raise SpecError(f"{path}: {message}" if path else message, path=path or None)


def join(path: str, key: str | int) -> str:
    """The path of ``key`` inside the value at ``path`` (``a.b``, ``a[3]``, ``a['x y']``)."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _IDENTIFIER.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{key!r}]"


def listing(names: Iterable[str]) -> str:
    """``'a', 'b', 'c'`` — the allowed names, for an error message."""
    return ", ".join(repr(n) for n in names)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, numbers.Real):
        return f"the number {value!r}"
    return f"a {type(value).__name__}"


def as_mapping(value: Any, path: str, what: str = "a mapping") -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        fail(path, f"expected {what}, got {_kind(value)}")
    for key in value:
        if not isinstance(key, str):
            fail(path, f"keys must be strings, got {key!r}")
    return value


def as_list(value: Any, path: str, what: str = "a list") -> list[Any]:
    if not isinstance(value, list | tuple):
        fail(path, f"expected {what}, got {_kind(value)}")
    return list(value)


def as_name(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        fail(path, f"expected a non-empty name, got {_kind(value)}")
    return value


def as_names(value: Any, path: str, what: str) -> tuple[str, ...]:
    """A non-empty list of distinct names (states, outcomes, controls, factors)."""
    items = as_list(value, path, f"a list of {what}")
    if not items:
        fail(path, f"must list at least one of the {what}")
    names = tuple(as_name(item, join(path, i)) for i, item in enumerate(items))
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            fail(join(path, i), f"duplicated name {name!r} in the {what}")
        seen.add(name)
    return names


def as_number(value: Any, path: str, *, probability: bool = False) -> float:
    """A finite real number; with ``probability`` also non-negative."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        fail(path, f"expected a number, got {_kind(value)}")
    number = float(value)
    if not math.isfinite(number):
        fail(path, f"expected a finite number, got {number!r}")
    if probability and number < 0:
        fail(path, f"probabilities cannot be negative, got {number!r}")
    return number


def as_int(value: Any, path: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        fail(path, f"expected an integer, got {_kind(value)}")
    if int(value) < minimum:
        fail(path, f"expected an integer >= {minimum}, got {int(value)}")
    return int(value)


def check_keys(
    mapping: Mapping[str, Any],
    path: str,
    *,
    allowed: Iterable[str],
    required: Iterable[str] = (),
) -> None:
    """Reject unknown keys (typos must not pass silently) and missing required ones."""
    allowed = tuple(allowed)
    for key in mapping:
        if key not in allowed:
            fail(path, f"unknown key {key!r}; allowed keys: {listing(allowed)}")
    for key in required:
        if key not in mapping:
            fail(path, f"missing required key {key!r}")
