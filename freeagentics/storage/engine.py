"""Engines for SQLite (the default, embedded) and PostgreSQL, with bounded pools that queue.

Both backends get a :class:`~sqlalchemy.pool.QueuePool` of ``pool_size + max_overflow``
connections: a caller beyond that waits up to ``pool_timeout`` seconds for a connection
to come back instead of failing, so a thousand concurrent operations queue on a few
dozen connections.

SQLite runs in WAL mode (readers never block the writer) with foreign keys on and a
busy timeout. Transactions start with ``BEGIN IMMEDIATE`` so a writer takes the write
lock up front and waits for it under the busy timeout; a deferred transaction that reads
and then writes could instead fail at once when another writer committed in between.
Read-only work that should not wait for writers can ask for a deferred transaction with
``conn.execution_options(sqlite_begin="DEFERRED")``.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

from freeagentics.errors import ConfigurationError
from freeagentics.storage._location import DATA_DIR_ENV, DATABASE_URL_ENV, default_url

__all__ = [
    "DATABASE_URL_ENV",
    "DATA_DIR_ENV",
    "create_engine_for",
    "database_state",
    "default_url",
    "in_memory",
    "is_postgres",
]

SQLITE_BUSY_TIMEOUT_S = 60.0


def is_postgres(engine_or_url: Engine | str | URL) -> bool:
    """Whether an engine or URL talks to PostgreSQL."""
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else make_url(engine_or_url)
    return url.get_backend_name() == "postgresql"


def in_memory(url: URL) -> bool:
    """Whether SQLite ``url`` names a database in memory, which only the process that
    opened it can reach."""
    database = url.database or ""
    return database in ("", ":memory:") or database.startswith("file::memory:")


def database_state(engine: Engine) -> str:
    """``"ok"`` when the database answers a query, else the error's type name (a health
    check: the answer is the database's state, never an exception)."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:
        return type(exc).__name__
    return "ok"


def _normalise(url: str | URL) -> URL:
    url = make_url(url)
    backend = url.get_backend_name()
    if backend == "postgresql" and url.drivername != "postgresql+psycopg":
        url = url.set(drivername="postgresql+psycopg")  # psycopg 3: COPY and server cursors
    elif backend not in ("postgresql", "sqlite"):
        raise ConfigurationError(f"unsupported database {backend!r}; use sqlite or postgresql")
    return url


def create_engine_for(
    url: str | URL | None = None,
    *,
    pool_size: int = 10,
    max_overflow: int = 20,
    pool_timeout: float = 30.0,
    schema: str | None = None,
    echo: bool = False,
) -> Engine:
    """An engine for ``url`` (default :func:`default_url`) with a bounded, queueing pool.

    Args:
        url: ``sqlite:///path`` or ``postgresql://...`` (psycopg 3 is used either way).
        pool_size: connections kept open.
        max_overflow: extra connections opened under load, closed when returned.
        pool_timeout: seconds a caller waits for a free connection before an error.
        schema: PostgreSQL only: the schema every connection works in (``search_path``).
        echo: log SQL statements.
    """
    url = _normalise(url or default_url())
    pool = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout}
    if url.get_backend_name() == "sqlite":
        if schema is not None:
            raise ConfigurationError("schema= applies to PostgreSQL only")
        return _sqlite_engine(url, pool, echo)
    # Fail fast while the server is away; notice a silently dead peer within ~25 s.
    connect_args: dict = {
        "connect_timeout": 5,
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
    }
    if schema is not None:
        connect_args["options"] = f"-c search_path={schema}"
    return create_engine(
        url,
        pool_pre_ping=True,  # drop connections a server restart left dead
        connect_args=connect_args,
        echo=echo,
        **pool,
    )


def _sqlite_engine(url: URL, pool: dict, echo: bool) -> Engine:
    if in_memory(url):
        # One shared connection: every pooled connection to ":memory:" would be a new database.
        engine = create_engine(
            url,
            echo=echo,
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
        )
    else:
        Path(url.database or "").parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S},
            **pool,
        )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see the module docstring)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe under WAL
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine
