"""Alembic environment: async engine, run through `connection.run_sync`."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from bot.db.migrate import MIGRATION_LOCK, MIGRATION_LOCK_WAIT
from bot.db.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies tables.
        compare_type=True,
        **kwargs,  # type: ignore[arg-type]
    )


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it."""
    _configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    # Two processes starting at once (shard processes, or `db upgrade` beside a starting bot)
    # must migrate once: take the database's write lock first, in one transaction that holds
    # every migration. The second waits, then finds the schema at head and does nothing.
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    # Alembic sees a transaction already open and leaves it to us: one commit at the end
    # (which also releases the lock), nothing half-done on an error.
    _configure(connection=connection)
    context.run_migrations()
    connection.commit()


async def run_async_migrations() -> None:
    """Connect with the async driver and run the migrations on that connection."""
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None
    # SQLite: a migration copying a large table can hold the lock for a while; wait for it.
    connect_args = {"timeout": MIGRATION_LOCK_WAIT} if url.startswith("sqlite") else {}
    engine = create_async_engine(url, poolclass=pool.NullPool, connect_args=connect_args)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_async_migrations())
