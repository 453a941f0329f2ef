"""Ids are never reused on SQLite: simulations, checkpoints and knowledge graphs AUTOINCREMENT.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03

Without ``AUTOINCREMENT`` SQLite hands out ``max(id) + 1``, so deleting the newest
simulation gave its id to the next one, and anything still holding the old id (a
WebSocket subscriber, a client) silently followed the new simulation. SQLite cannot
add ``AUTOINCREMENT`` to a table, so the three tables with generated ids are copied
into new ones (rows, ids and indexes kept); :func:`freeagentics.storage.upgrade` runs
migrations with foreign keys off on SQLite, so dropping the old tables does not
cascade to their children. PostgreSQL takes its ids from sequences, which never give
an id twice: nothing changes there.

The tables below are frozen copies of revision 0001's, not imports of ``tables.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _created_at(name: str = "created_at") -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def _simulation_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["simulation_id"],
        ["simulations.id"],
        name=f"fk_{table}_simulation_id_simulations",
        ondelete="CASCADE",
    )


def _tables(autoincrement: bool) -> list[sa.Table]:
    meta = sa.MetaData()
    options = {"sqlite_autoincrement": autoincrement}
    simulations = sa.Table(
        "simulations",
        meta,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=True),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(16), server_default="created", nullable=False),
        sa.Column("tick", sa.BigInteger(), server_default="0", nullable=False),
        _created_at(),
        _created_at("updated_at"),
        sa.CheckConstraint(
            "status IN ('created', 'running', 'paused', 'completed', 'failed')",
            name="ck_simulations_status",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_simulations"),
        sa.Index("ix_simulations_status", "status"),
        **options,
    )
    checkpoints = sa.Table(
        "checkpoints",
        meta,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("simulation_id", sa.BigInteger(), nullable=False),
        sa.Column("tick", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        _created_at(),
        _simulation_fk("checkpoints"),
        sa.CheckConstraint(
            "data IS NOT NULL OR path IS NOT NULL", name="ck_checkpoints_data_or_path"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_checkpoints"),
        sa.Index("ix_checkpoints_simulation_id_tick", "simulation_id", "tick"),
        **options,
    )
    graphs = sa.Table(
        "knowledge_graphs",
        meta,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("simulation_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.String(128), nullable=True),
        sa.Column("next_node_id", sa.BigInteger(), server_default="1", nullable=False),
        sa.Column("tick", sa.BigInteger(), server_default="0", nullable=False),
        _created_at(),
        _simulation_fk("knowledge_graphs"),
        sa.PrimaryKeyConstraint("id", name="pk_knowledge_graphs"),
        sa.Index("ix_knowledge_graphs_simulation_id", "simulation_id"),
        **options,
    )
    return [simulations, checkpoints, graphs]


def _recreate(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in _tables(autoincrement):
        with op.batch_alter_table(table.name, copy_from=table, recreate="always"):
            pass


def upgrade() -> None:
    _recreate(autoincrement=True)


def downgrade() -> None:
    _recreate(autoincrement=False)
