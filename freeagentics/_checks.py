"""Argument checks shared across the package, each with one wording of its message."""

from __future__ import annotations

import numbers

from freeagentics.errors import ConfigurationError

__all__ = ["whole_number_at_least"]


def whole_number_at_least(
    name: str, value: object, minimum: int, error: type[Exception] = ConfigurationError
) -> int:
    """``value`` as an ``int`` when it is a whole number ``>= minimum``, else ``error``.

    Python and numpy integers pass; booleans, floats (even ``2.0``) and strings do not,
    so a count is never silently truncated.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise error(f"{name} must be a whole number >= {minimum}, got {value!r}")
    if value < minimum:
        raise error(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return int(value)
