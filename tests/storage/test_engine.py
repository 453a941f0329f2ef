"""Engine settings: SQLite pragmas, bounded pools, the default URL."""

from __future__ import annotations

import pytest

from freeagentics.errors import ConfigurationError
from freeagentics.storage import create_engine_for, default_url, is_postgres


def test_sqlite_engine_settings(tmp_path):
    engine = create_engine_for(f"sqlite:///{tmp_path / 'deep' / 'e.db'}", pool_size=3)
    with engine.connect() as conn:
        pragma = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout")
        }
    assert pragma == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 60_000}
    assert engine.pool.size() == 3 and not is_postgres(engine)
    engine.dispose()


def test_postgres_engine_uses_psycopg3_and_a_bounded_pool():
    engine = create_engine_for("postgresql://u@localhost/db", pool_size=4, max_overflow=6)
    assert engine.dialect.driver == "psycopg" and is_postgres(engine)
    assert (engine.pool.size(), engine.pool._max_overflow) == (4, 6)
    engine.dispose()


def test_default_url_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("FREEAGENTICS_DATABASE_URL", "postgresql://x@h/db")
    assert default_url() == "postgresql://x@h/db"
    monkeypatch.delenv("FREEAGENTICS_DATABASE_URL")
    monkeypatch.setenv("FREEAGENTICS_DATA_DIR", str(tmp_path / "data"))
    assert default_url() == f"sqlite:///{tmp_path / 'data' / 'freeagentics.db'}"
    assert (tmp_path / "data").is_dir()


def test_unsupported_settings_are_refused(tmp_path):
    with pytest.raises(ConfigurationError):
        create_engine_for("mysql://u@h/db")
    with pytest.raises(ConfigurationError):
        create_engine_for(f"sqlite:///{tmp_path / 'x.db'}", schema="s")


def test_display_url_hides_the_password_as_sqlalchemy_renders_it():
    from sqlalchemy.engine import make_url

    from freeagentics.storage import display_url

    for url in (
        "sqlite:////tmp/x.db",
        "postgresql+psycopg://postgres@127.0.0.1:5432/test",
        "postgresql+psycopg://u:s3cr%40t/x@h:5/d?sslmode=require",
        "postgresql://u:@h/d",
        "postgresql://:pw@h/d",
    ):
        shown = display_url(url)
        assert shown == make_url(url).render_as_string(hide_password=True), url
        assert "s3cr" not in shown and ":pw@" not in shown
