"""Argument checks shared across the package, each with one wording of its message."""

from __future__ import annotations

import numbers

from freeagentics.errors import ConfigurationError

__all__ = ["whole_number_at_least", "whole_number_in"]


def _whole_number(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def whole_number_at_least(
    name: str, value: object, minimum: int, error: type[Exception] = ConfigurationError
) -> int:
    """``value`` as an ``int`` when it is a whole number ``>= minimum``, else ``error``.

    Python and numpy integers pass; booleans, floats (even ``2.0``) and strings do not,
    so a count is never silently truncated.
    """
    if not _whole_number(value) or value < minimum:
        raise error(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


def whole_number_in(
    name: str, value: object, low: int, high: int, error: type[Exception] = ConfigurationError
) -> int:
    """``value`` as an ``int`` when it is a whole number in ``[low, high]``, else ``error``.

    Accepts and rejects the same types as :func:`whole_number_at_least`.
    """
    if not _whole_number(value) or not low <= value <= high:
        raise error(f"{name} must be a whole number in [{low}, {high}], got {value!r}")
    return int(value)
