"""Initial schema: simulations, agents, coalitions, beliefs, metrics, checkpoints, knowledge.

Revision ID: 0001
Revises:
Create Date: 2026-11-28

Frozen copy of the schema at this revision (not an import of ``tables.py``), so later
changes to the tables need a new revision and this one keeps meaning the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Blob = sa.LargeBinary().with_variant(postgresql.BYTEA(), "postgresql")
SerialId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Big = sa.BigInteger
ACTIVE = sa.text("status = 'active'")


def _created_at(name: str = "created_at") -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def _simulation_fk(table: str, nullable: bool = False) -> tuple[sa.Column, sa.ForeignKeyConstraint]:
    return (
        sa.Column("simulation_id", Big(), nullable=nullable),
        sa.ForeignKeyConstraint(
            ["simulation_id"],
            ["simulations.id"],
            name=f"fk_{table}_simulation_id_simulations",
            ondelete="CASCADE",
        ),
    )


def _gin(table: str) -> None:
    # JSONB containment queries (@>) on properties; SQLite has no equivalent index.
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            f"ix_{table}_properties",
            table,
            ["properties"],
            postgresql_using="gin",
            postgresql_ops={"properties": "jsonb_path_ops"},
        )


def upgrade() -> None:
    op.create_table(
        "simulations",
        sa.Column("id", SerialId, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(128), nullable=True),
        sa.Column("config", Json, nullable=False),
        sa.Column("seed", Big(), nullable=True),
        sa.Column("status", sa.String(16), server_default="created", nullable=False),
        sa.Column("tick", Big(), server_default="0", nullable=False),
        _created_at(),
        _created_at("updated_at"),
        sa.CheckConstraint(
            "status IN ('created', 'running', 'paused', 'completed', 'failed')",
            name="ck_simulations_status",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_simulations"),
    )
    op.create_index("ix_simulations_status", "simulations", ["status"])

    op.create_table(
        "agents",
        *_simulation_fk("agents"),
        sa.Column("agent_id", Big(), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), server_default="active", nullable=False),
        sa.Column("coalition_id", Big(), nullable=True),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("col", sa.Integer(), nullable=False),
        sa.Column("energy", sa.Float(), nullable=False),
        sa.Column("last_action", Big(), nullable=True),
        sa.Column("metrics", Json, nullable=False),
        sa.Column("updated_tick", Big(), nullable=False),
        sa.CheckConstraint("status IN ('active', 'removed')", name="ck_agents_status"),
        sa.PrimaryKeyConstraint("simulation_id", "agent_id", name="pk_agents"),
    )
    op.create_index("ix_agents_simulation_id_status", "agents", ["simulation_id", "status"])
    op.create_index("ix_agents_simulation_id_kind", "agents", ["simulation_id", "kind"])
    op.create_index(
        "ix_agents_simulation_id_coalition_id", "agents", ["simulation_id", "coalition_id"]
    )
    op.create_index(
        "ix_agents_active",
        "agents",
        ["simulation_id", "agent_id"],
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )

    op.create_table(
        "coalitions",
        *_simulation_fk("coalitions"),
        sa.Column("coalition_id", Big(), nullable=False),
        sa.Column("objective", Big(), nullable=True),
        sa.Column("leader", Big(), nullable=True),
        sa.Column("status", sa.String(16), server_default="active", nullable=False),
        sa.Column("created_tick", Big(), nullable=False),
        sa.Column("dissolved_tick", Big(), nullable=True),
        sa.CheckConstraint("status IN ('active', 'dissolved')", name="ck_coalitions_status"),
        sa.PrimaryKeyConstraint("simulation_id", "coalition_id", name="pk_coalitions"),
    )
    op.create_index(
        "ix_coalitions_active",
        "coalitions",
        ["simulation_id", "coalition_id"],
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )

    op.create_table(
        "coalition_memberships",
        sa.Column("simulation_id", Big(), nullable=False),
        sa.Column("coalition_id", Big(), nullable=False),
        sa.Column("agent_id", Big(), nullable=False),
        sa.Column("joined_tick", Big(), nullable=False),
        sa.Column("left_tick", Big(), nullable=True),
        sa.ForeignKeyConstraint(
            ["simulation_id", "coalition_id"],
            ["coalitions.simulation_id", "coalitions.coalition_id"],
            name="fk_coalition_memberships_simulation_id_coalition_id_coalitions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "simulation_id",
            "coalition_id",
            "agent_id",
            "joined_tick",
            name="pk_coalition_memberships",
        ),
    )
    current = sa.text("left_tick IS NULL")
    op.create_index(
        "ix_coalition_memberships_current",
        "coalition_memberships",
        ["simulation_id", "coalition_id", "agent_id"],
        postgresql_where=current,
        sqlite_where=current,
    )
    op.create_index(
        "ix_coalition_memberships_simulation_id_agent_id",
        "coalition_memberships",
        ["simulation_id", "agent_id"],
    )

    op.create_table(
        "belief_snapshots",
        *_simulation_fk("belief_snapshots"),
        sa.Column("tick", Big(), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("shape", Json, nullable=False),
        sa.Column("dtype", sa.String(16), nullable=False),
        sa.Column("agent_ids", Blob, nullable=False),
        sa.Column("beliefs", Blob, nullable=False),
        sa.PrimaryKeyConstraint("simulation_id", "tick", "kind", name="pk_belief_snapshots"),
    )

    op.create_table(
        "tick_metrics",
        *_simulation_fk("tick_metrics"),
        sa.Column("tick", Big(), nullable=False),
        sa.Column("agents", sa.Integer(), nullable=False),
        sa.Column("coalitions", sa.Integer(), nullable=False),
        sa.Column("mean_energy", sa.Float(), nullable=True),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("tick_seconds", sa.Float(), nullable=False),
        sa.Column("metrics", Json, nullable=False),
        sa.Column("timings", Json, nullable=False),
        sa.PrimaryKeyConstraint("simulation_id", "tick", name="pk_tick_metrics"),
    )

    op.create_table(
        "checkpoints",
        sa.Column("id", SerialId, autoincrement=True, nullable=False),
        *_simulation_fk("checkpoints"),
        sa.Column("tick", Big(), nullable=False),
        sa.Column("data", Blob, nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("size_bytes", Big(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        _created_at(),
        sa.CheckConstraint(
            "data IS NOT NULL OR path IS NOT NULL", name="ck_checkpoints_data_or_path"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_checkpoints"),
    )
    op.create_index("ix_checkpoints_simulation_id_tick", "checkpoints", ["simulation_id", "tick"])

    op.create_table(
        "knowledge_graphs",
        sa.Column("id", SerialId, autoincrement=True, nullable=False),
        *_simulation_fk("knowledge_graphs", nullable=True),
        sa.Column("name", sa.String(128), nullable=True),
        sa.Column("next_node_id", Big(), server_default="1", nullable=False),
        sa.Column("tick", Big(), server_default="0", nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name="pk_knowledge_graphs"),
    )
    op.create_index("ix_knowledge_graphs_simulation_id", "knowledge_graphs", ["simulation_id"])

    op.create_table(
        "knowledge_nodes",
        sa.Column("graph_id", Big(), nullable=False),
        sa.Column("id", Big(), autoincrement=False, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("key", sa.String(256), nullable=False),
        sa.Column("properties", Json, nullable=False),
        sa.Column("created_tick", Big(), nullable=False),
        sa.Column("updated_tick", Big(), nullable=False),
        sa.ForeignKeyConstraint(
            ["graph_id"],
            ["knowledge_graphs.id"],
            name="fk_knowledge_nodes_graph_id_knowledge_graphs",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("graph_id", "id", name="pk_knowledge_nodes"),
        sa.UniqueConstraint("graph_id", "type", "key", name="uq_knowledge_nodes_graph_id_type_key"),
    )
    op.create_index("ix_knowledge_nodes_graph_id_type", "knowledge_nodes", ["graph_id", "type"])
    op.create_index(
        "ix_knowledge_nodes_graph_id_updated_tick_id",
        "knowledge_nodes",
        ["graph_id", "updated_tick", "id"],
    )
    _gin("knowledge_nodes")

    op.create_table(
        "knowledge_edges",
        sa.Column("graph_id", Big(), nullable=False),
        sa.Column("src", Big(), nullable=False),
        sa.Column("dst", Big(), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("properties", Json, nullable=False),
        sa.Column("weight", sa.Float(), server_default="1", nullable=False),
        sa.Column("created_tick", Big(), nullable=False),
        sa.Column("updated_tick", Big(), nullable=False),
        sa.ForeignKeyConstraint(
            ["graph_id", "src"],
            ["knowledge_nodes.graph_id", "knowledge_nodes.id"],
            name="fk_knowledge_edges_src_knowledge_nodes",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["graph_id", "dst"],
            ["knowledge_nodes.graph_id", "knowledge_nodes.id"],
            name="fk_knowledge_edges_dst_knowledge_nodes",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("graph_id", "src", "dst", "type", name="pk_knowledge_edges"),
    )
    op.create_index(
        "ix_knowledge_edges_graph_id_dst_type", "knowledge_edges", ["graph_id", "dst", "type"]
    )
    op.create_index("ix_knowledge_edges_graph_id_type", "knowledge_edges", ["graph_id", "type"])
    _gin("knowledge_edges")


def downgrade() -> None:
    # Dropping a table drops its indexes; children before parents for the foreign keys.
    for table in (
        "knowledge_edges",
        "knowledge_nodes",
        "knowledge_graphs",
        "checkpoints",
        "tick_metrics",
        "belief_snapshots",
        "coalition_memberships",
        "coalitions",
        "agents",
        "simulations",
    ):
        op.drop_table(table)
