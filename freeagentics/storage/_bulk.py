"""Bulk idempotent inserts: COPY into a staging table on PostgreSQL, executemany on SQLite.

Every bulk write is an upsert keyed on the table's primary key, so writing the same batch
twice (a retry after a commit whose acknowledgement was lost) leaves the same rows as
writing it once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy import Connection, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

__all__ = ["upsert"]


def upsert(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence],
    *,
    update: Sequence[str] = (),
    newer: str | None = None,
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order); on a key clash update ``update``.

    Args:
        update: columns overwritten on conflict; none means keep the stored row.
        newer: a column that must not go backwards: a clashing row only updates when its
            value there is at least the stored one (so a stale batch cannot undo a newer).

    Keys must be unique within ``rows`` (PostgreSQL refuses to update a row twice in one
    statement). Returns ``len(rows)``.
    """
    if not rows:
        return 0
    key = [c.name for c in table.primary_key.columns]
    if conn.dialect.name == "postgresql":
        _copy_upsert(conn, table, columns, rows, key, update, newer)
    else:
        stmt = sqlite_insert(table)
        stmt = _on_conflict(stmt, table, key, update, newer)
        conn.execute(stmt, [dict(zip(columns, row, strict=True)) for row in rows])
    return len(rows)


def _on_conflict(stmt, table: Table, key, update, newer):
    if not update:
        return stmt.on_conflict_do_nothing(index_elements=key)
    where = table.c[newer] <= stmt.excluded[newer] if newer else None
    return stmt.on_conflict_do_update(
        index_elements=key, set_={c: stmt.excluded[c] for c in update}, where=where
    )


def _copy_upsert(conn: Connection, table: Table, columns, rows, key, update, newer) -> None:
    stage = f"_fa_stage_{table.name}"
    # A temp table lives as long as the (pooled) connection; create it once per connection.
    conn.exec_driver_sql(
        f'CREATE TEMP TABLE IF NOT EXISTS "{stage}" '
        f'(LIKE "{table.name}" INCLUDING DEFAULTS) ON COMMIT DELETE ROWS'
    )
    json_cols = {i for i, c in enumerate(columns) if isinstance(table.c[c].type, sa.JSON)}
    quoted = ", ".join(f'"{c}"' for c in columns)
    cursor = conn.connection.driver_connection.cursor()
    try:
        with cursor.copy(f'COPY "{stage}" ({quoted}) FROM STDIN') as copy:
            for row in rows:
                if json_cols:
                    row = [json.dumps(v) if i in json_cols else v for i, v in enumerate(row)]
                copy.write_row(row)
    finally:
        cursor.close()
    source = sa.select(*(sa.column(c) for c in columns)).select_from(sa.table(stage))
    stmt = pg_insert(table).from_select(list(columns), source)
    conn.execute(_on_conflict(stmt, table, key, update, newer))
    # The same table may be staged again before the commit empties it.
    conn.exec_driver_sql(f'TRUNCATE "{stage}"')
