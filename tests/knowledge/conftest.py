"""Store implementations under test.

Every contract test runs against each factory in ``STORE_FACTORIES``; a new backend
joins the suite by adding itself here. The SQL stores each get a fresh graph per call,
in one database per test session: a SQLite file, and a throw-away schema on the
PostgreSQL server of ``$FREEAGENTICS_TEST_POSTGRES_URL`` (skipped when the server is
unreachable, unless ``FREEAGENTICS_REQUIRE_SERVICES=1``).
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from freeagentics.knowledge import InMemoryKnowledgeGraph, KnowledgeStore, SqlKnowledgeGraph
from freeagentics.storage.engine import create_engine_for
from freeagentics.storage.tables import metadata

POSTGRES_URL = os.environ.get(
    "FREEAGENTICS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_SERVICES = os.environ.get("FREEAGENTICS_REQUIRE_SERVICES") == "1"


def sqlite_engine(path: Path) -> sa.Engine:
    """An engine on a new SQLite file holding the FreeAgentics tables."""
    engine = create_engine_for(f"sqlite:///{path}")
    metadata.create_all(engine)
    return engine


def postgres_schema_engine() -> tuple[sa.Engine, Callable[[], None]] | str:
    """An engine confined to a fresh schema with the tables, and a function dropping it;
    or why PostgreSQL cannot be used."""
    schema = f"fa_{uuid.uuid4().hex[:12]}"
    try:
        admin = create_engine_for(POSTGRES_URL, pool_size=1, max_overflow=0)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        return f"PostgreSQL at {POSTGRES_URL} unreachable: {exc.orig}"
    # tests need no durability: not waiting for the WAL flush makes commits ~10x faster
    engine = sa.create_engine(
        POSTGRES_URL,
        connect_args={"options": f"-c search_path={schema} -c synchronous_commit=off"},
    )
    metadata.create_all(engine)

    def drop() -> None:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return engine, drop


class _Lazy:
    """A store factory whose database is set up on first use and torn down at exit."""

    def __init__(self, open_engine: Callable[[], sa.Engine | str]) -> None:
        self._open = open_engine
        self._engine: sa.Engine | str | None = None

    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = self._open()
        if isinstance(self._engine, str):
            if REQUIRE_SERVICES:
                pytest.fail(self._engine)
            pytest.skip(self._engine)
        return self._engine

    def __call__(self, **kwargs) -> SqlKnowledgeGraph:
        return SqlKnowledgeGraph(self.engine(), **kwargs)


_teardown: list[Callable[[], None]] = []
_tmp = tempfile.TemporaryDirectory(prefix="fa-knowledge-")


def _open_sqlite() -> sa.Engine:
    engine = sqlite_engine(Path(_tmp.name) / "knowledge.db")
    _teardown.append(engine.dispose)
    return engine


def _open_postgres() -> sa.Engine | str:
    opened = postgres_schema_engine()
    if isinstance(opened, str):
        return opened
    engine, drop = opened
    _teardown.append(drop)
    return engine


STORE_FACTORIES: dict[str, Callable[..., KnowledgeStore]] = {
    "memory": InMemoryKnowledgeGraph,
    "sqlite": _Lazy(_open_sqlite),
    "postgresql": _Lazy(_open_postgres),
}


@pytest.fixture(scope="session", autouse=True)
def _sql_databases() -> Iterator[None]:
    """Drop the session's PostgreSQL schema and SQLite file when the tests end."""
    yield
    while _teardown:
        _teardown.pop()()
    _tmp.cleanup()


@pytest.fixture(params=sorted(STORE_FACTORIES))
def make_store(request: pytest.FixtureRequest) -> Callable[..., KnowledgeStore]:
    """A store factory taking the ``InMemoryKnowledgeGraph`` keyword arguments."""
    return STORE_FACTORIES[request.param]


@pytest.fixture(scope="session")
def store_factories() -> dict[str, Callable[..., KnowledgeStore]]:
    """All factories, for hypothesis tests (which cannot take function-scoped fixtures).

    A SQL backend that is unavailable is left out (its skip would skip the memory
    store's run of the same test too), unless services are required.
    """
    usable = {}
    for name, factory in STORE_FACTORIES.items():
        if isinstance(factory, _Lazy):
            try:
                factory.engine()
            except pytest.skip.Exception:
                continue
        usable[name] = factory
    return usable
