"""Engine and session factories: one session per unit of work, never made at import."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")

WRITE_THREADS = 4
"""Threads for synchronous write units of work; SQLite takes one writer at a time anyway."""


class Database:
    """Holds the engine and the session factories.

    `read` opens ordinary transactions. `write` opens transactions that take the write lock
    at BEGIN on SQLite (BEGIN IMMEDIATE): a deferred transaction that reads and then writes
    fails at once with "database is locked" when another writer is active, busy timeout or
    not. On PostgreSQL both are the same. `run_write` runs a synchronous unit of work in such
    a transaction, for the hot paths.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": self.dialect != "sqlite"}
        self._thread_writes: sessionmaker[Session] | None = None
        self._sync_engine: Engine | None = None
        # Writes waiting on a lock (another process, a backup) wait on threads of their own:
        # on asyncio's default executor they would starve what else runs there (aiohttp's
        # DNS lookups for Discord, among others).
        self._writers: ThreadPoolExecutor | None = None
        if self.dialect == "sqlite":
            ensure_sqlite_folder(url)
            kwargs["connect_args"] = {"timeout": 30}
            # The hot write paths run as one synchronous unit of work on a worker thread:
            # through aiosqlite every statement costs several thread hops (~1 ms in all).
            self._sync_engine = create_engine(
                parsed.set(drivername="sqlite"),
                echo=echo,
                connect_args={"timeout": 30, "check_same_thread": False},
            )
            _configure_sqlite(self._sync_engine)
            self._thread_writes = sessionmaker(
                self._sync_engine.execution_options(sqlite_immediate=True),
                expire_on_commit=False,
            )
            self._writers = ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="db-write")
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine.sync_engine)
        write_engine = self.engine.execution_options(sqlite_immediate=True)
        self.read = async_sessionmaker(self.engine, expire_on_commit=False)
        self.write = async_sessionmaker(write_engine, expire_on_commit=False)

    async def run_write(self, work: Callable[..., T], *args: Any) -> T:
        """Run `work(session, *args)` in one write transaction and return its result.

        `work` is plain synchronous SQLAlchemy code. On SQLite it runs on a worker thread in
        a single hop; on PostgreSQL through the async session's `run_sync`.
        """
        if self._writers is not None:
            call = functools.partial(self._write_on_thread, work, *args)
            return await asyncio.get_running_loop().run_in_executor(self._writers, call)
        async with self.write.begin() as s:
            return await s.run_sync(work, *args)

    def _write_on_thread(self, work: Callable[..., T], *args: Any) -> T:
        assert self._thread_writes is not None
        with self._thread_writes.begin() as s:
            return work(s, *args)

    def engines(self) -> list[Any]:
        """Every engine whose pool holds connections (for the pool gauge of /metrics)."""
        return [self.engine] + ([self._sync_engine] if self._sync_engine is not None else [])

    async def checkpoint(self) -> None:
        """Copy the SQLite write-ahead log into the database file, off the request path.

        Automatic checkpoints are off (see `_configure_sqlite`): left on, one commit in a few
        hundred pays for copying the whole log. The bot calls this every few seconds instead.
        A PASSIVE checkpoint never blocks readers or writers.
        """
        if self.dialect == "sqlite":
            async with self.engine.connect() as conn:
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    async def dispose(self) -> None:
        """Close every pooled connection (without it the process may hang at exit)."""
        await self.engine.dispose()
        if self._writers is not None:
            self._writers.shutdown(wait=False)
        if self._sync_engine is not None:
            self._sync_engine.dispose()


def ensure_sqlite_folder(url: str) -> None:
    """Create the folder of a SQLite database file (SQLite creates only the file)."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (pysqlite's own handling defers it badly).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA wal_autocheckpoint=0")  # Database.checkpoint runs in background.
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def upsert(session: AsyncSession | Session, table: Table | Any) -> Any:
    """Return a dialect-specific INSERT that supports ON CONFLICT clauses."""
    name = session.bind.dialect.name if session.bind is not None else "sqlite"
    module = postgresql if name == "postgresql" else sqlite
    target = table.__table__ if hasattr(table, "__table__") else table
    return module.insert(target)
