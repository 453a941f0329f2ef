"""A server's migration at start: nothing to do at the head, done in a child interpreter
when behind (so Alembic never loads in the server), refused with the child's reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from freeagentics.storage import create_engine_for, head, upgrade
from freeagentics.storage import startup_migration as sm
from freeagentics.storage.migrate import schema_diff

ROOT = Path(__file__).resolve().parents[2]


def _no_child(*args, **kwargs):
    raise AssertionError("no child process was expected")


def _sqlite(tmp_path: Path, revision: str | None = "head") -> sa.Engine:
    """A SQLite file migrated to ``revision`` (None: left empty)."""
    engine = create_engine_for(f"sqlite:///{tmp_path / 'm.db'}")
    if revision is not None:
        upgrade(engine, revision)
    return engine


def _at_head(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        return sm.database_revision(engine) == head() and schema_diff(conn) == []


def test_the_head_read_from_the_scripts_is_alembics():
    assert sm.shipped_head() == head()


def test_a_fresh_database_is_migrated_without_loading_alembic_in_this_process(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    program = (
        "import sys\n"
        "from freeagentics.storage import create_engine_for\n"
        "from freeagentics.storage.startup_migration import migrate_at_start\n"
        f"print(migrate_at_start(create_engine_for({url!r})))\n"
        "print(sorted({'alembic', 'mako', 'pygments'} & set(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == [head(), "[]"]
    engine = create_engine_for(url)
    assert _at_head(engine)
    engine.dispose()


def test_a_database_at_the_head_is_left_alone(tmp_path, monkeypatch):
    engine = _sqlite(tmp_path)
    monkeypatch.setattr(sm, "start_migration", _no_child)
    assert sm.migrate_at_start(engine) == head()
    engine.dispose()


def test_a_database_behind_is_brought_to_the_head(tmp_path):
    engine = _sqlite(tmp_path, "0001")
    assert sm.database_revision(engine) == "0001"
    assert sm.migrate_at_start(engine) == head()
    assert _at_head(engine)
    engine.dispose()


def test_a_database_ahead_of_this_version_is_refused_with_the_childs_reason(tmp_path):
    engine = _sqlite(tmp_path)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(sm.MigrationFailed, match="9999"):
        sm.migrate_at_start(engine)
    engine.dispose()


def test_a_database_in_memory_is_migrated_in_this_process(monkeypatch):
    engine = create_engine_for("sqlite://")
    monkeypatch.setattr(sm, "start_migration", _no_child)
    assert sm.database_revision(engine) is None
    assert sm.migrate_at_start(engine) == head()
    assert _at_head(engine)
    engine.dispose()


def test_postgres_is_migrated_by_the_child_from_the_url_alone(pg_url, pg_schemas):
    # the schema travels in the URL (libpq's options), as a server's URL would carry it
    joiner = "&" if "?" in pg_url else "?"
    url = f"{pg_url}{joiner}options=-csearch_path%3D{pg_schemas()}"
    engine = create_engine_for(url)
    try:
        assert sm.migrate_at_start(engine) == head()
        assert _at_head(engine)
    finally:
        engine.dispose()
