"""``serve --workers N`` says what it lacks before starting anything: PostgreSQL, Redis
(configured and answering), a simulation host process."""

from __future__ import annotations

import pytest
import uvicorn
from typer.testing import CliRunner

from freeagentics.cli import app
from freeagentics.loadtest.server import free_port
from freeagentics.server import supervisor
from freeagentics.server.settings import Settings

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/never-opened"


@pytest.fixture
def serve(monkeypatch):
    """``freeagentics serve ARGS`` with nothing actually served: (exit code, output, the
    settings handed to the supervisor or None)."""
    handed: list[Settings] = []
    monkeypatch.setattr(supervisor, "serve_workers", lambda s: handed.append(s) or 0)
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("one process was served"))
    for name in ("DATABASE_URL", "REDIS_URL", "WORKERS", "SIMULATION_HOST"):
        monkeypatch.delenv(f"FREEAGENTICS_{name}", raising=False)

    def run(*args: str, **env: str):
        for name, value in env.items():
            monkeypatch.setenv(f"FREEAGENTICS_{name.upper()}", value)
        result = CliRunner().invoke(app, ["serve", "--no-demo", *args])
        return result.exit_code, " ".join(result.output.split()), handed[-1] if handed else None

    return run


def test_without_postgresql_and_redis_it_names_both_and_starts_nothing(serve):
    code, output, handed = serve("--workers", "2")
    assert code == 2 and handed is None
    assert "--workers 2 needs PostgreSQL and Redis" in output
    assert "FREEAGENTICS_DATABASE_URL is not set" in output
    assert "FREEAGENTICS_REDIS_URL is not set" in output


def test_sqlite_is_named_as_what_is_wrong(serve, redis_url, tmp_path):
    code, output, handed = serve(
        "--workers", "3", database_url=f"sqlite:///{tmp_path}/x.db", redis_url=redis_url
    )
    assert code == 2 and handed is None
    assert "FREEAGENTICS_DATABASE_URL names sqlite" in output and "REDIS_URL" not in output


def test_the_workers_setting_counts_like_the_flag_and_an_inline_host_is_refused(serve):
    code, output, handed = serve(workers="2", database_url=PG, simulation_host="inline")
    assert code == 2 and handed is None
    assert "FREEAGENTICS_REDIS_URL is not set" in output and "DATABASE_URL" not in output
    assert "FREEAGENTICS_SIMULATION_HOST is 'inline'" in output


def test_a_redis_that_does_not_answer_is_named(serve):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    code, output, handed = serve("--workers", "2", database_url=PG, redis_url=dead)
    assert code == 2 and handed is None
    assert f"Redis at {dead} does not answer" in output


def test_with_both_it_hands_the_settings_to_the_supervisor(serve, redis_url):
    code, output, handed = serve(
        "--workers", "2", "--port", "8125", database_url=PG, redis_url=redis_url
    )
    assert code == 0, output
    assert handed is not None and handed.workers == 2 and handed.port == 8125
    assert handed.frames_through_redis and handed.redis_url == redis_url  # budgets shared too
    assert "2 API workers" in output


def test_frames_go_through_redis_only_with_several_workers():
    assert not Settings(redis_url="redis://x").frames_through_redis
    assert not Settings(workers=2).frames_through_redis
    assert Settings(workers=2, redis_url="redis://x").frames_through_redis
    with pytest.raises(ValueError, match="workers"):
        Settings(workers=65)
