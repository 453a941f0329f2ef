"""Alembic environment: runs migrations against ``freeagentics.storage.tables.metadata``.

Configured in code (see :mod:`freeagentics.storage.migrate`): a caller either hands over
an open connection in ``config.attributes["connection"]`` or sets ``sqlalchemy.url``
(default: :func:`~freeagentics.storage.default_url`, so ``$FREEAGENTICS_DATABASE_URL``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import make_url

from freeagentics.storage.engine import create_engine_for, default_url
from freeagentics.storage.migrate import foreign_keys_off, include_object
from freeagentics.storage.tables import metadata

config = context.config


def _configure(dialect: str, **kwargs) -> None:
    context.configure(
        target_metadata=metadata,
        include_object=include_object(dialect),
        compare_type=True,
        render_as_batch=True,  # SQLite alters tables by copying them
        **kwargs,
    )


def _run_offline() -> None:
    url = make_url(config.get_main_option("sqlalchemy.url") or default_url())
    _configure(url.get_backend_name(), url=url, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection.dialect.name, connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine_for(config.get_main_option("sqlalchemy.url") or default_url())
    try:
        with engine.connect() as connection, foreign_keys_off(connection):
            _configure(connection.dialect.name, connection=connection)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    _run_offline()
else:
    _run_online()
