"""Apply Alembic migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from bot.db.session import ensure_sqlite_folder

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The PostgreSQL advisory lock that serialises migrations ("mileston" in ASCII); SQLite takes
# its write lock (BEGIN IMMEDIATE) instead, and waits up to MIGRATION_LOCK_WAIT seconds for it.
MIGRATION_LOCK = 0x6D696C6573746F6E
MIGRATION_LOCK_WAIT = 600.0


def alembic_config(url: str) -> Config:
    """Build an Alembic config pointing at our migrations and the given database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database to `revision`. Runs its own event loop: call it outside one."""
    ensure_sqlite_folder(url)
    command.upgrade(alembic_config(url), revision)
