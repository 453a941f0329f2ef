"""Where the server listens and keeps its database: settings, flags and `make run`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from freeagentics.cli import app
from freeagentics.server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def served(monkeypatch):
    """``freeagentics serve`` with uvicorn.run replaced: what it would have served, and how."""
    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    monkeypatch.delenv("FREEAGENTICS_DATABASE_URL", raising=False)
    # simulations here: no host process for an app that is never served, and making the
    # app migrates the database (a host would, as it starts, open the URL the settings name)
    monkeypatch.setenv("FREEAGENTICS_SIMULATION_HOST", "inline")

    def serve(*args: str) -> tuple[dict, str]:
        result = CliRunner().invoke(app, ["serve", "--no-demo", *args])
        assert result.exit_code == 0, result.output
        return calls[-1], result.output

    return serve


def test_settings_hold_host_port_and_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("FREEAGENTICS_DATABASE_URL", raising=False)
    monkeypatch.setenv("FREEAGENTICS_PORT", "8123")
    monkeypatch.setenv("FREEAGENTICS_DATA_DIR", str(tmp_path / "data"))
    settings = Settings()
    assert (settings.host, settings.port) == ("127.0.0.1", 8123)
    assert settings.resolved_database_url() == f"sqlite:///{tmp_path / 'data' / 'freeagentics.db'}"
    assert (tmp_path / "data").is_dir()
    explicit = Settings(database_url="sqlite:///elsewhere.db", data_dir=tmp_path)
    assert explicit.resolved_database_url() == "sqlite:///elsewhere.db"


def test_a_port_out_of_range_is_refused():
    with pytest.raises(ValueError, match="port"):
        Settings(port=70_000)


def test_serve_listens_where_the_settings_say_and_names_its_database(served, tmp_path, monkeypatch):
    monkeypatch.setenv("FREEAGENTICS_PORT", "8123")
    monkeypatch.setenv("FREEAGENTICS_DATA_DIR", str(tmp_path))
    call, output = served()
    assert (call["host"], call["port"]) == ("127.0.0.1", 8123)
    database = tmp_path / "freeagentics.db"
    assert call["app"].state.settings.database_url == f"sqlite:///{database}"
    assert database.exists()  # migrated there, not in a folder shared by every checkout
    assert "http://127.0.0.1:8123" in output and str(database) in output.replace("\n", "")


def test_serve_flags_override_the_settings(served, tmp_path, monkeypatch):
    monkeypatch.setenv("FREEAGENTICS_PORT", "8123")
    monkeypatch.setenv("FREEAGENTICS_DATA_DIR", str(tmp_path))
    call, _ = served("--port", "8124", "--host", "0.0.0.0")
    assert (call["host"], call["port"]) == ("0.0.0.0", 8124)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_takes_a_port_and_keeps_the_database_in_the_checkout():
    env = {k: v for k, v in os.environ.items() if k != "FREEAGENTICS_DATA_DIR"}
    plan = subprocess.run(
        ["make", "-n", "run", "PORT=8001"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (serve,) = [line for line in plan.splitlines() if "freeagentics serve" in line]
    assert serve.endswith("serve --port 8001")
    assert f'FREEAGENTICS_DATA_DIR="{ROOT}/data"' in serve
    assert "test.lock" not in plan  # the server's set only


def test_serve_stops_at_a_database_it_cannot_migrate(tmp_path, monkeypatch):
    """serve migrates in a child while the host starts; a database ahead of this version
    stops it with the migration's reason, and the host it spawned is stopped too."""
    from freeagentics import hosts
    from freeagentics.storage import create_engine_for, upgrade

    url = f"sqlite:///{tmp_path / 'ahead.db'}"
    engine = create_engine_for(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    engine.dispose()
    children: list[subprocess.Popen] = []

    class Recorded(hosts.LocalHostProcess):
        def _spawn(self):
            spawned = super()._spawn()
            children.append(spawned[0])
            return spawned

    monkeypatch.setattr(hosts, "LocalHostProcess", Recorded)
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("served it unmigrated"))
    monkeypatch.setenv("FREEAGENTICS_DATABASE_URL", url)
    monkeypatch.setenv("FREEAGENTICS_SIMULATION_HOST", "process")
    result = CliRunner().invoke(app, ["serve", "--no-demo"])
    assert result.exit_code == 1, result.output
    assert "migrating the database failed" in result.output and "9999" in result.output
    (child,) = children
    assert child.poll() is not None  # the host child is gone, not left to linger
