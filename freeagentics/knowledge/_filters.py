"""The ``where`` filter syntax of :meth:`KnowledgeStore.find_nodes`.

``where`` is a mapping whose keys are ``"field"`` or ``"field__op"`` and whose values
are operands; every condition must hold (AND)::

    {"kind": "explorer", "energy__gt": 3, "x__le": 10, "resource__in": ["food", "water"]}

Operators: ``eq`` (the default when there is no ``__op`` suffix), ``ne``, ``lt``,
``le``, ``gt``, ``ge``, ``in``. If a key contains ``__`` the part after the last
``__`` must be one of these operators (so a field named ``a__b`` is written
``"a__b__eq"``).

Comparisons are type-strict, the same in every store implementation:

* values fall in three classes: bools, numbers (``int`` and ``float`` compare
  numerically, ``1 == 1.0``), and strings (compared by code point);
* a condition holds only when the node has the field *and* its value is in the
  operand's class; ``ne`` included (``{"kind__ne": "a"}`` does not match a node
  without ``kind``, nor one whose ``kind`` is a number), as SQL's ``NULL`` would;
* ``lt``/``le``/``gt``/``ge`` take a number or a string, never a bool;
* ``in`` takes a non-empty list, tuple or set of operands and holds if ``eq`` holds
  for one of them.

Anything else raises :class:`~freeagentics.errors.ConfigurationError`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from freeagentics.errors import ConfigurationError
from freeagentics.knowledge._types import PropertyValue

__all__ = ["OPERATORS", "Condition", "matches", "parse_where"]

OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "in")

_COMPARE = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


def _class(value: Any) -> str | None:
    """``"b"`` bool, ``"n"`` number, ``"s"`` string, ``None`` anything else."""
    if isinstance(value, bool):
        return "b"
    if isinstance(value, int | float):
        return "n"
    if isinstance(value, str):
        return "s"
    return None


@dataclass(frozen=True, slots=True)
class Condition:
    """One parsed condition. For ``in``, ``operand`` is a tuple of ``(class, value)``.

    Equality includes the operand's class so that ``True`` and ``1`` (equal and
    equally hashed in Python) give different cache keys.
    """

    field: str
    op: str
    operand_class: str
    operand: Any


def _operand(value: Any, key: str, ordered: bool) -> tuple[str, PropertyValue]:
    if isinstance(value, np.generic):
        value = value.item()
    cls = _class(value)
    if cls is None or (cls == "n" and not math.isfinite(value)):
        raise ConfigurationError(
            f"where[{key!r}]: operand must be a bool, int, finite float or str, got {value!r}"
        )
    if ordered and cls == "b":
        raise ConfigurationError(f"where[{key!r}]: ordering comparisons take a number or string")
    return cls, value


def parse_where(where: Mapping[str, Any] | None) -> tuple[Condition, ...]:
    """Validate ``where`` and return its conditions sorted by ``(field, op)``."""
    if where is None:
        return ()
    if not isinstance(where, Mapping):
        raise ConfigurationError(f"where must be a mapping, got {type(where).__name__}")
    conditions = []
    for key, value in where.items():
        if not isinstance(key, str) or not key:
            raise ConfigurationError(f"where keys must be non-empty strings, got {key!r}")
        field, sep, op = key.rpartition("__")
        if not sep:
            field, op = key, "eq"
        elif op not in OPERATORS:
            raise ConfigurationError(
                f"where[{key!r}]: unknown operator {op!r}; expected one of {OPERATORS}"
            )
        if not field:
            raise ConfigurationError(f"where[{key!r}]: missing field name before '__{op}'")
        if op == "in":
            if isinstance(value, str | bytes) or not isinstance(
                value, list | tuple | set | frozenset
            ):
                raise ConfigurationError(f"where[{key!r}]: 'in' takes a list, tuple or set")
            if not value:
                raise ConfigurationError(f"where[{key!r}]: 'in' needs at least one operand")
            operands = tuple(_operand(v, key, ordered=False) for v in value)
            conditions.append(Condition(field, op, "", operands))
        else:
            cls, operand = _operand(value, key, ordered=op not in ("eq", "ne"))
            conditions.append(Condition(field, op, cls, operand))
    conditions.sort(key=lambda c: (c.field, c.op))
    return tuple(conditions)


def _holds(value: Any, condition: Condition) -> bool:
    cls = _class(value)
    if condition.op == "in":
        return any(cls == c and value == v for c, v in condition.operand)
    return cls == condition.operand_class and _COMPARE[condition.op](value, condition.operand)


def matches(properties: Mapping[str, PropertyValue], conditions: tuple[Condition, ...]) -> bool:
    """Whether a node's properties satisfy every condition."""
    for condition in conditions:
        if condition.field not in properties:
            return False
        if not _holds(properties[condition.field], condition):
            return False
    return True
