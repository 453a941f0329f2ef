"""Storage fixtures: every ``engine`` test runs on SQLite and on the real PostgreSQL.

PostgreSQL comes from ``$FREEAGENTICS_TEST_POSTGRES_URL`` (default: the local server).
The test session works in its own fresh schema ``fa_<random>``, dropped at the end. When
the server is unreachable its cases are skipped, unless ``FREEAGENTICS_REQUIRE_SERVICES=1``
(CI), where they fail.
"""

from __future__ import annotations

import os
import uuid

import numpy as np
import pytest
import sqlalchemy as sa

from freeagentics.storage import create_engine_for, upgrade

PG_URL = os.environ.get(
    "FREEAGENTICS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE = os.environ.get("FREEAGENTICS_REQUIRE_SERVICES") == "1"


def _admin_engine() -> sa.Engine:
    return create_engine_for(PG_URL, pool_size=1, max_overflow=2)


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The PostgreSQL URL, or a skip (a failure where services are required)."""
    engine = _admin_engine()
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as exc:
        if REQUIRE:
            pytest.fail(f"PostgreSQL at {PG_URL} is required but unreachable: {exc}")
        pytest.skip(f"PostgreSQL at {PG_URL} unreachable")
    finally:
        engine.dispose()
    return PG_URL


@pytest.fixture(scope="session")
def pg_schemas(pg_url):
    """Make fresh schemas on demand (``make()`` -> name); all dropped at the end."""
    made: list[str] = []

    def make() -> str:
        name = f"fa_{uuid.uuid4().hex[:12]}"
        engine = _admin_engine()
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {name}")
        engine.dispose()
        made.append(name)
        return name

    yield make
    engine = _admin_engine()
    with engine.begin() as conn:
        for name in made:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {name} CASCADE")
    engine.dispose()


@pytest.fixture(scope="session")
def pg_schema(pg_schemas) -> str:
    """The session's migrated schema."""
    name = pg_schemas()
    engine = create_engine_for(PG_URL, schema=name)
    upgrade(engine)
    engine.dispose()
    return name


@pytest.fixture(scope="session")
def pg_engine(pg_url, pg_schema):
    engine = create_engine_for(pg_url, schema=pg_schema)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    """A migrated engine on each backend (PostgreSQL shared by the session: use new ids)."""
    if request.param == "postgresql":
        yield request.getfixturevalue("pg_engine")
        return
    engine = create_engine_for(f"sqlite:///{tmp_path / 'fa.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def tick_events(tick: int, n: int = 20, *, removed: int = 0):
    """A synthetic event batch: agents ``removed..n-1``, energy = tick + id / 100."""
    from freeagentics.simulation import TickEvents

    ids = np.arange(removed, n, dtype=np.int64)
    return TickEvents(
        tick=tick,
        kind_names=("explorer", "collector"),
        ids=ids,
        kinds=ids % 2,
        positions=np.stack([ids % 7, (ids + tick) % 7], axis=1).astype(np.int32),
        actions=np.full(ids.size, tick % 5, np.int64),
        energy=(tick + ids / 100).astype(np.float32),
        coalition=np.where(ids % 3 == 0, 1, -1),
        metrics={"belief_entropy": np.full(ids.size, float(tick), np.float32)},
        timings={"inference": 0.001},
    )


@pytest.fixture
def make_events():
    return tick_events
