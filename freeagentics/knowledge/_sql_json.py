"""Properties as JSON in SQL: exact encoding, and ``where`` filters translated to SQL.

Encoding
    Properties are written as JSON text that both SQLite (``JSON`` text) and PostgreSQL
    (``JSONB``) read back as the same Python values. One case needs care: Python writes
    an integral float of magnitude ``>= 1e16`` as ``1e+16``, which JSONB stores as the
    numeric ``10000000000000000`` and hands back as an ``int``. Such floats are written
    as ``10000000000000000.0`` instead (exact: every float that large is an integer), so
    the numeric keeps a fractional digit and reads back as a ``float``.

Filters
    :func:`where_clauses` turns the conditions of
    :func:`~freeagentics.knowledge._filters.parse_where` into SQL with the same
    type-strict meaning as :func:`~freeagentics.knowledge._filters.matches`: a condition
    holds only if the field exists and its JSON type is the operand's class (booleans,
    numbers, strings never equal each other), and strings order by code point.

    * PostgreSQL: ``eq`` and ``in`` become JSONB containment (``properties @> '{"f": v}'``),
      which the GIN ``jsonb_path_ops`` index answers; ``ne`` and the ordering operators
      compare ``properties -> 'f'`` as JSONB (numbers numerically) or ``->>`` under
      ``COLLATE "C"`` (strings), guarded by ``jsonb_typeof``.
    * SQLite: ``json_type`` guards the class and ``json_extract`` gives the value
      (strings compare with the ``BINARY`` collation, i.e. by UTF-8 bytes = code points).
      A field name containing ``"`` or ``\\`` cannot be written as a JSON path there, so
      it is looked up with ``json_each`` instead (same result, slower).

    Everything is exact except the comparison of integers beyond ``2**53`` with floats:
    both databases compare such pairs with the float rounded to its shortest decimal
    (PostgreSQL) or as doubles (SQLite, which also cannot bind integers beyond int64 and
    compares those as floats), where Python compares exactly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from freeagentics.knowledge._filters import Condition
from freeagentics.knowledge._types import PropertyValue

__all__ = ["encode_properties", "encode_value", "where_clauses"]

_INT64 = (-(2**63), 2**63 - 1)
_PG_TYPE = {"b": "boolean", "n": "number", "s": "string"}
_SQLITE_TYPES = {"n": ("integer", "real"), "s": ("text",)}
_SQL_OPS = {"ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def encode_value(value: PropertyValue) -> str:
    """One property value as JSON text that reads back as the same Python type."""
    if isinstance(value, float) and abs(value) >= 1e16:
        return f"{int(value)}.0"  # integral at this size: keep it a float in JSONB
    return json.dumps(value, ensure_ascii=False)


def encode_properties(properties: Mapping[str, PropertyValue]) -> str:
    """A flat property mapping as JSON text (see the module docstring)."""
    text = json.dumps(properties, ensure_ascii=False, separators=(",", ":"))
    if "e+" not in text:
        return text  # no float in exponent form: the common, fast case
    items = (
        f"{json.dumps(k, ensure_ascii=False)}:{encode_value(v)}" for k, v in properties.items()
    )
    return "{" + ",".join(items) + "}"


def where_clauses(
    dialect: str,
    properties: sa.ColumnElement,
    conditions: Sequence[Condition],
    *,
    indexable: bool = True,
) -> list[sa.ColumnElement[bool]]:
    """SQL predicates, one per condition, on the JSON column ``properties``.

    ``indexable=False`` (PostgreSQL) writes equality as ``properties -> 'f' = v`` rather
    than containment, so the planner cannot pick the GIN index: right when the rows
    are already few (a k-hop neighbourhood) and the index would fetch a whole class.
    """
    if dialect == "postgresql":
        return [_postgres(properties, c, indexable) for c in conditions]
    return [_sqlite(properties, c) for c in conditions]


# --- PostgreSQL ---------------------------------------------------------------------


def _pg_contains(props: sa.ColumnElement, field: str, value: PropertyValue) -> sa.ColumnElement:
    doc = "{" + json.dumps(field, ensure_ascii=False) + ":" + encode_value(value) + "}"
    return props.op("@>", is_comparison=True)(sa.cast(sa.literal(doc, sa.Text), JSONB))


def _pg_equals(item: sa.ColumnElement, value: PropertyValue) -> sa.ColumnElement[bool]:
    # JSONB equality: numbers numerically, never across JSON types
    return item.op("=", is_comparison=True)(
        sa.cast(sa.literal(encode_value(value), sa.Text), JSONB)
    )


def _postgres(props: sa.ColumnElement, c: Condition, indexable: bool) -> sa.ColumnElement[bool]:
    item = props.op("->")(sa.literal(c.field, sa.Text))
    if c.op in ("eq", "in"):
        operands = [c.operand] if c.op == "eq" else [v for _, v in c.operand]
        if indexable:
            return sa.or_(*(_pg_contains(props, c.field, v) for v in operands))
        return sa.or_(*(_pg_equals(item, v) for v in operands))
    guard = sa.func.jsonb_typeof(item) == _PG_TYPE[c.operand_class]
    if c.operand_class == "s":
        text = props.op("->>")(sa.literal(c.field, sa.Text))
        compare = (
            sa.type_coerce(text, sa.Text)
            .collate("C")
            .op(_SQL_OPS[c.op], is_comparison=True)(sa.literal(c.operand, sa.Text))
        )
    else:
        operand = sa.cast(sa.literal(encode_value(c.operand), sa.Text), JSONB)
        compare = item.op(_SQL_OPS[c.op], is_comparison=True)(operand)
    return sa.and_(guard, compare)


# --- SQLite -------------------------------------------------------------------------


def _sqlite_operand(value: PropertyValue) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        if not _INT64[0] <= value <= _INT64[1]:
            return float(value)  # sqlite3 cannot bind it; compared as a double
    return value


def _sqlite_test(
    json_type: sa.ColumnElement, value: sa.ColumnElement, op: str, cls: str, operand: PropertyValue
) -> sa.ColumnElement[bool]:
    if cls == "b":
        # a JSON boolean is its type: true/false; eq/ne are the only operators allowed
        return json_type == ("true" if operand == (op == "eq") else "false")
    sql_op = "=" if op == "eq" else _SQL_OPS[op]
    return sa.and_(
        json_type.in_(_SQLITE_TYPES[cls]),
        value.op(sql_op, is_comparison=True)(sa.literal(_sqlite_operand(operand))),
    )


def _sqlite(props: sa.ColumnElement, c: Condition) -> sa.ColumnElement[bool]:
    if '"' in c.field or "\\" in c.field:
        return _sqlite_each(props, c)
    path = sa.literal('$."' + c.field + '"', sa.Text)
    json_type = sa.func.json_type(props, path)
    value = sa.func.json_extract(props, path)
    if c.op == "in":
        return sa.or_(*(_sqlite_test(json_type, value, "eq", k, v) for k, v in c.operand))
    return _sqlite_test(json_type, value, c.op, c.operand_class, c.operand)


def _sqlite_each(props: sa.ColumnElement, c: Condition) -> sa.ColumnElement[bool]:
    each = sa.func.json_each(props).table_valued("key", "value", "type").alias("je")
    if c.op == "in":
        test = sa.or_(*(_sqlite_test(each.c.type, each.c.value, "eq", k, v) for k, v in c.operand))
    else:
        test = _sqlite_test(each.c.type, each.c.value, c.op, c.operand_class, c.operand)
    return sa.exists(sa.select(1).select_from(each).where(each.c.key == c.field, test))
