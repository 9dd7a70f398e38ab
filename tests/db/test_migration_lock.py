"""Migrations take a lock: processes that start at once migrate the database once.

Runs on this run's backend (SQLite file, or PostgreSQL with TEST_BACKEND=postgres). The test
holds the lock itself while two `milestone-bot db upgrade` processes start, so both are
certainly waiting for it at the same time; then it lets go.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from alembic import command
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

import bot.db.migrate
from bot.db.migrate import MIGRATION_LOCK, MIGRATIONS, alembic_config, upgrade

REPO = Path(__file__).resolve().parents[2]
WAIT = 120.0  # seconds for anything to happen, on a busy 2-core machine


@contextlib.asynccontextmanager
async def holding_the_lock(url: str) -> AsyncIterator[asyncpg.Connection | None]:
    """Take the migration lock as a migrating process would, and hold it."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(dsn)
        try:
            transaction = conn.transaction()
            await transaction.start()
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            yield conn
            await transaction.rollback()
        finally:
            await conn.close()
        return
    lite = sqlite3.connect(parsed.database or "", isolation_level=None)
    try:
        lite.execute("BEGIN IMMEDIATE")
        yield None
        lite.execute("ROLLBACK")
    finally:
        lite.close()


async def waiting_on_the_lock(conn: asyncpg.Connection) -> int:
    """How many sessions wait for an advisory lock (PostgreSQL)."""
    count = await conn.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted")
    return int(count)


async def db_upgrade(url: str, cwd: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(REPO), "DATABASE_URL": url, "LOG_LEVEL": "INFO"}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "db",
        "upgrade",
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_two_processes_starting_at_once_migrate_once(
    empty_db_url: str, tmp_path: Path
) -> None:
    if empty_db_url.startswith("sqlite"):
        # The file must exist for the test to hold its lock; SQLite takes an empty file as
        # an empty database.
        sqlite3.connect(make_url(empty_db_url).database or "").close()
    async with holding_the_lock(empty_db_url) as pg:
        procs = [await db_upgrade(empty_db_url, tmp_path) for _ in range(2)]
        try:
            deadline = time.monotonic() + WAIT
            if pg is not None:
                while await waiting_on_the_lock(pg) < 2:
                    assert time.monotonic() < deadline, "the processes never waited on the lock"
                    assert all(p.returncode is None for p in procs), "a process ended early"
                    await asyncio.sleep(0.05)
            else:
                # No view of SQLite's waiters: give both time to reach the lock (start-up
                # takes a second or two), and see that neither got past it.
                await asyncio.sleep(4)
            assert all(p.returncode is None for p in procs), "a process migrated under the lock"
        except BaseException:
            for proc in procs:
                proc.kill()
            raise
    outputs = [await asyncio.wait_for(p.communicate(), WAIT) for p in procs]
    logs = "\n".join(err.decode() for _, err in outputs)
    assert [p.returncode for p in procs] == [0, 0], logs
    assert logs.count("Running upgrade  -> 0001") == 1, logs
    # Every migration ran once, in one of the two processes, up to the newest.
    versions = sorted((Path(bot.db.migrate.MIGRATIONS) / "versions").glob("0*.py"))
    head = versions[-1].name[:4]
    assert logs.count("Running upgrade ") == len(versions), logs
    assert logs.count(f"-> {head},") == 1, logs
    await asyncio.to_thread(upgrade, empty_db_url)  # a third, later, finds nothing to do


FAILING_MIGRATION = """
import sqlalchemy as sa
from alembic import op

revision = "0099"
down_revision = "{head}"


def upgrade() -> None:
    op.create_table("doomed", sa.Column("id", sa.Integer, primary_key=True))
    raise RuntimeError("this migration fails")


def downgrade() -> None:
    pass
"""


def test_a_failed_migration_leaves_nothing_half_done(empty_db_url: str, tmp_path: Path) -> None:
    """Every migration runs in the one locked transaction: an error undoes all of them."""
    scripts = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    head = sorted((scripts / "versions").glob("0*.py"))[-1].name[:4]
    (scripts / "versions" / "0099_fails.py").write_text(FAILING_MIGRATION.format(head=head))
    config = alembic_config(empty_db_url)
    config.set_main_option("script_location", str(scripts))
    with pytest.raises(RuntimeError, match="this migration fails"):
        command.upgrade(config, "head")
    assert asyncio.run(table_names(empty_db_url)) == []


async def table_names(url: str) -> list[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()
