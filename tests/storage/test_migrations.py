"""The packaged migrations create exactly ``tables.metadata``, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from typer.testing import CliRunner

from freeagentics.cli import app
from freeagentics.storage import (
    checkpoints,
    create_engine_for,
    current,
    head,
    metadata,
    tables,
    upgrade,
)
from freeagentics.storage.migrate import schema_diff


def _check_fresh_migration(engine: sa.Engine) -> None:
    assert current(engine) is None
    assert upgrade(engine) == head() == "0002"
    with engine.connect() as conn:
        assert schema_diff(conn) == []
        tables = set(sa.inspect(conn).get_table_names())
    assert set(metadata.tables) <= tables
    assert upgrade(engine) == head()  # a second upgrade is a no-op


def test_sqlite_migration_matches_metadata(tmp_path):
    engine = create_engine_for(f"sqlite:///{tmp_path / 'm.db'}")
    _check_fresh_migration(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        names = {ix["name"] for ix in sa.inspect(conn).get_indexes("knowledge_nodes")}
    assert "ix_knowledge_nodes_graph_id_updated_tick_id" in names
    assert "ix_knowledge_nodes_properties" not in names  # GIN is PostgreSQL-only
    engine.dispose()


def test_postgres_migration_matches_metadata(pg_url, pg_schemas):
    engine = create_engine_for(pg_url, schema=pg_schemas())
    try:
        _check_fresh_migration(engine)
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            gin = {ix["name"]: ix for ix in inspector.get_indexes("knowledge_nodes")}
            assert gin["ix_knowledge_nodes_properties"]["dialect_options"]["postgresql_using"] == (
                "gin"
            )
            types = {c["name"]: c["type"] for c in inspector.get_columns("knowledge_edges")}
            assert type(types["properties"]).__name__ == "JSONB"
            partial = {ix["name"]: ix for ix in inspector.get_indexes("agents")}["ix_agents_active"]
            assert "active" in partial["dialect_options"]["postgresql_where"]
    finally:
        engine.dispose()


def test_schema_diff_notices_a_missing_index(tmp_path):
    engine = create_engine_for(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_agents_simulation_id_kind")
    with engine.connect() as conn:
        diff = schema_diff(conn)
    assert [d[0] for d in diff] == ["add_index"]
    engine.dispose()


def test_cli_db_upgrade_and_current(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    before = runner.invoke(app, ["db", "current", "--url", url])
    assert before.exit_code == 0, before.output
    assert "none" in before.output.lower()
    result = runner.invoke(app, ["db", "upgrade", "--url", url])
    assert result.exit_code == 0, result.output
    assert head() in result.output
    after = runner.invoke(app, ["db", "current", "--url", url])
    assert after.exit_code == 0 and head() in after.output


def test_cli_uses_the_environment_url(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("FREEAGENTICS_DATABASE_URL", url)
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert current(url) == head()


def _new_simulation(conn) -> int:
    from freeagentics.storage import simulations

    return simulations.create(conn, {"seed": 1}, name="s")


def test_a_deleted_simulations_id_is_never_reused(engine):
    """SQLite used to hand the newest deleted id to the next simulation."""
    with engine.begin() as conn:
        _new_simulation(conn)
        newest = _new_simulation(conn)
        conn.execute(tables.simulations.delete().where(tables.simulations.c.id == newest))
        after = _new_simulation(conn)
        assert after > newest
        ckpt = checkpoints.save(conn, after, 0, b"x")
        conn.execute(tables.checkpoints.delete().where(tables.checkpoints.c.id == ckpt))
        assert checkpoints.save(conn, after, 1, b"y") > ckpt


def test_upgrading_an_existing_sqlite_database_keeps_rows_and_stops_reuse(tmp_path):
    engine = create_engine_for(f"sqlite:///{tmp_path / 'old.db'}")
    assert upgrade(engine, "0001") == "0001"
    with engine.begin() as conn:
        first, second = _new_simulation(conn), _new_simulation(conn)
        conn.execute(
            tables.checkpoints.insert().values(
                simulation_id=first, tick=3, data=b"abc", size_bytes=3, sha256="0" * 64
            )
        )
        conn.execute(tables.knowledge_graphs.insert().values(simulation_id=first, name="g", tick=0))
        conn.execute(
            tables.tick_metrics.insert().values(
                simulation_id=first,
                tick=1,
                agents=1,
                coalitions=0,
                events=0,
                tick_seconds=0.1,
                metrics={},
                timings={},
            )
        )
    assert upgrade(engine) == head()
    with engine.begin() as conn:
        assert schema_diff(conn) == []
        ddl = dict(conn.exec_driver_sql("SELECT name, sql FROM sqlite_master").all())
        for table in ("simulations", "checkpoints", "knowledge_graphs"):
            assert "AUTOINCREMENT" in ddl[table], table
        # children of the copied tables survived the copy (foreign keys were off)
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.tick_metrics)).scalar()
        assert [c.tick for c in checkpoints.query(conn, first)] == [3]
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        conn.execute(tables.simulations.delete().where(tables.simulations.c.id == second))
        assert _new_simulation(conn) > second
        # and foreign keys cascade again
        conn.execute(tables.simulations.delete().where(tables.simulations.c.id == first))
        assert not conn.execute(sa.select(tables.tick_metrics.c.tick)).all()
    engine.dispose()
