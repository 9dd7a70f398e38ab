"""Apply Alembic migrations programmatically (no alembic.ini needed).

A bot starting on a database already at `HEAD` (every start but the first after an update)
reads the version and imports nothing of Alembic, which would stay loaded for the life of the
process: about 8 MiB of the bot's memory.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import pool, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from bot.db.session import ensure_sqlite_folder

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The newest migration. tests/db/test_migrations.py checks that it is Alembic's head, so a new
# migration that does not move it fails there.
HEAD = "0011"
# The PostgreSQL advisory lock that serialises migrations ("mileston" in ASCII); SQLite takes
# its write lock (BEGIN IMMEDIATE) instead, and waits up to MIGRATION_LOCK_WAIT seconds for it.
MIGRATION_LOCK = 0x6D696C6573746F6E
MIGRATION_LOCK_WAIT = 600.0


def alembic_config(url: str) -> Config:
    """Build an Alembic config pointing at our migrations and the given database."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database to `revision`. Runs its own event loop: call it outside one."""
    ensure_sqlite_folder(url)
    if revision == "head" and asyncio.run(stored_revision(url)) == HEAD:
        return
    from alembic import command

    command.upgrade(alembic_config(url), revision)


async def stored_revision(url: str) -> str | None:
    """The migration the database says it is at; None for a new database.

    A database that cannot be reached raises here, as Alembic would.
    """
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            try:
                result = await connection.execute(text("SELECT version_num FROM alembic_version"))
            except DBAPIError:  # No version table yet.
                return None
            versions = list(result.scalars())
    finally:
        await engine.dispose()
    return versions[0] if len(versions) == 1 else None
