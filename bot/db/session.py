"""Engine and session factories: one session per unit of work, never made at import."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


class Database:
    """Holds the engine and two session factories.

    `read` opens ordinary transactions. `write` opens transactions that take the write lock
    at BEGIN on SQLite (BEGIN IMMEDIATE): a deferred transaction that reads and then writes
    fails at once with "database is locked" when another writer is active, busy timeout or
    not. On PostgreSQL both are the same.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": self.dialect != "sqlite"}
        if self.dialect == "sqlite":
            ensure_sqlite_folder(url)
            kwargs["connect_args"] = {"timeout": 30}
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine)
        write_engine = self.engine.execution_options(sqlite_immediate=True)
        self.read = async_sessionmaker(self.engine, expire_on_commit=False)
        self.write = async_sessionmaker(write_engine, expire_on_commit=False)

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


def ensure_sqlite_folder(url: str) -> None:
    """Create the folder of a SQLite database file (SQLite creates only the file)."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
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

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def upsert(session: AsyncSession, table: Table | Any) -> Any:
    """Return a dialect-specific INSERT that supports ON CONFLICT clauses."""
    name = session.bind.dialect.name if session.bind is not None else "sqlite"
    module = postgresql if name == "postgresql" else sqlite
    target = table.__table__ if hasattr(table, "__table__") else table
    return module.insert(target)
