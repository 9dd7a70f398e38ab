"""Engine and session factories: one session per unit of work, never made at import."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.util import await_only, greenlet_spawn

from bot.db.dialect import dialect_of, insert_for
from bot.db.fast import PgRunner, Runner, Statements, pg_error
from bot.db.tally import Tally

T = TypeVar("T")

READER_THREADS = 3  # SQLite reads at once (WAL: they never wait for the writer)
THREAD_CACHE_KIB = 512  # page cache of each worker thread's connection


class Workers:
    """A few threads that run units of work for the event loop.

    `asyncio.to_thread` costs more than a small unit of work: a context copy, a
    concurrent.futures Future (with its Condition and lock) chained to an asyncio Future.
    Here a job is a queue put and a `call_soon_threadsafe` back. Threads start on first use.
    """

    def __init__(self, count: int, on_exit: Callable[[], None] | None = None) -> None:
        self.count = count
        self.on_exit = on_exit  # run by each thread as it ends
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stopped = False

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on a worker thread and return (or raise) what it does."""
        if self._stopped:
            raise RuntimeError("the database was closed (Database.dispose)")
        if len(self._threads) < self.count:
            self._start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((loop, future, fn, args))
        return await future

    def _start(self) -> None:
        with self._lock:
            while len(self._threads) < self.count:
                thread = threading.Thread(
                    target=self._work, name=f"db-worker-{len(self._threads)}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                if self.on_exit is not None:
                    self.on_exit()
                return
            loop, future, fn, args = job
            try:
                result = fn(*args)
            except BaseException as exc:
                _call_back(loop, _set_exception, future, exc)
            else:
                _call_back(loop, _set_result, future, result)

    async def stop(self, timeout: float = 10) -> None:  # noqa: ASYNC109
        """Let the threads finish their jobs and end (waiting without blocking the loop:
        a job may wait for a lock that a transaction on the loop holds)."""
        with self._lock:
            self._stopped = True
            threads, self._threads = self._threads, []
        for _ in threads:
            self._queue.put(None)

        def join() -> None:
            deadline = time.monotonic() + timeout
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))

        if threads:
            await asyncio.get_running_loop().run_in_executor(None, join)


def _call_back(loop: asyncio.AbstractEventLoop, fn: Callable[..., None], *args: Any) -> None:
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for this any more
        loop.call_soon_threadsafe(fn, *args)


def _set_result(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


class Database:
    """Holds the engine and the session factories.

    `read` opens ordinary transactions. `write` opens transactions that take the write lock
    at BEGIN on SQLite (BEGIN IMMEDIATE): a deferred transaction that reads and then writes
    fails at once with "database is locked" when another writer is active, busy timeout or
    not. On PostgreSQL both are the same. `run_write` runs a synchronous unit of work in such
    a transaction, for the hot paths; `run_read` does the same for reads. `run_fast_read` and
    `run_fast_write` run units of work made of prepared Core statements only, on SQLite
    straight through the sqlite3 module (`bot.db.fast`).
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": self.dialect != "sqlite"}
        self._thread_writes: sessionmaker[Session] | None = None
        self._thread_reads: sessionmaker[Session] | None = None
        self._statements: Statements | None = None
        self._pg_statements: Statements | None = None
        self._local = threading.local()
        # The event loop's own connection for the hot reads (see run_fast_read).
        self._loop_connection: sqlite3.Connection | None = None
        # Writes take turns on one thread (SQLite has one writer at a time anyway), so a
        # write waiting for the lock never holds up the reads. Both are threads of their
        # own: on asyncio's default executor a write waiting on a lock (another process, a
        # backup) would starve what else runs there (aiohttp's DNS lookups, among others).
        self._readers = Workers(READER_THREADS, self._close_thread_connection)
        self._writer = Workers(1, self._close_thread_connection)
        self._sync_engine: Engine | None = None
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
            self._thread_reads = sessionmaker(self._sync_engine, expire_on_commit=False)
            self._sqlite_path = parsed.database or ""
            if self._sqlite_path not in ("", ":memory:"):  # a file each thread can open
                self._statements = Statements(self._sync_engine.dialect)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        # PostgreSQL's fast units have a pool of their own, without the ping before each
        # checkout (a round trip, as costly as a hot read's statement): a unit that finds its
        # connection gone before it ran anything gets a new one instead (`_asyncpg_unit`).
        self._fast_engine: AsyncEngine | None = None
        if self.dialect == "postgresql":
            self._fast_engine = create_async_engine(url, echo=echo, pool_reset_on_return=None)
            self._pg_statements = Statements(self._fast_engine.dialect)
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
        if self._thread_writes is not None:
            return await self._writer.run(self._write_on_thread, work, *args)
        async with self.write.begin() as s:
            return await s.run_sync(work, *args)

    async def run_read(self, work: Callable[..., T], *args: Any) -> T:
        """Run `work(session, *args)` in one read transaction and return its result.

        For reads of several statements (a page made of many small counters): on SQLite one
        hop to a worker thread, as `run_write` does; on PostgreSQL through `run_sync`.
        """
        if self._thread_reads is not None:
            return await self._readers.run(self._read_on_thread, work, *args)
        async with self.read() as s:
            return await s.run_sync(work, *args)

    def _read_on_thread(self, work: Callable[..., T], *args: Any) -> T:
        assert self._thread_reads is not None
        with self._thread_reads() as s:
            return work(s, *args)

    def _write_on_thread(self, work: Callable[..., T], *args: Any) -> T:
        assert self._thread_writes is not None
        with self._thread_writes.begin() as s:
            return work(s, *args)

    def engines(self) -> list[Any]:
        """Every engine whose pool holds connections (for the pool gauge of /metrics)."""
        others = (self._sync_engine, self._fast_engine)
        return [self.engine, *(engine for engine in others if engine is not None)]

    async def run_fast_read(self, work: Callable[..., T], *args: Any) -> T:
        """Run `work(runner, *args)` in one read transaction and return its result.

        The twin of `run_fast_write` for the hot reads: every statement of an interaction at
        once. `work` runs prepared Core statements with `runner.execute(statement, params)`
        (the `Executes` protocol) and nothing else, and reads little (a page, a member): on
        SQLite it runs on the event loop's own sqlite3 connection without a hop (WAL: readers
        never wait for the writer), or on a reader thread when SQLite says busy; on
        PostgreSQL straight on an asyncpg connection (`_asyncpg_unit`).
        """
        if self._statements is not None:
            return await self._on_sqlite("BEGIN", self._readers, work, *args)
        return await self._on_asyncpg(True, work, *args)

    async def run_fast_write(self, work: Callable[..., T], *args: Any) -> T:
        """Like `run_write`, for a unit of work of prepared Core statements only.

        On SQLite it runs straight on sqlite3 (BEGIN IMMEDIATE), without a Session around each
        statement: on the event loop's own connection, or on the writer thread when another
        writer holds the lock; on PostgreSQL in one transaction on an asyncpg connection
        (`_asyncpg_unit`). Use `run_write` for work that needs the ORM (`add`, `get`).
        """
        if self._statements is not None:
            return await self._on_sqlite("BEGIN IMMEDIATE", self._writer, work, *args)
        return await self._on_asyncpg(False, work, *args)

    async def _on_asyncpg(self, read_only: bool, work: Callable[..., T], *args: Any) -> T:
        return await greenlet_spawn(self._asyncpg_unit, read_only, work, *args)

    def _asyncpg_unit(self, read_only: bool, work: Callable[..., T], *args: Any) -> T:
        """Run a fast unit of work on a pooled asyncpg connection (in a greenlet, so each
        statement can await). A write is one transaction; a read runs its statements as
        they come (each sees what was committed before it: read committed, as through a
        Session), without the two round trips of BEGIN and COMMIT. A write's counter
        changes go in one statement just before COMMIT (`bot.db.tally`): the server-wide
        counter rows stay locked for about a round trip, not for the whole unit."""
        assert self._fast_engine is not None and self._pg_statements is not None
        pool = self._fast_engine.sync_engine.pool
        for attempt in (1, 2):
            fairy = pool.connect()
            runner = PgRunner(fairy.driver_connection, fairy.dbapi_connection, self._pg_statements)
            try:
                if read_only:
                    return work(runner, *args)
                transaction = runner.connection.transaction()
                await_only(transaction.start())
                runner.tally = Tally()
                try:
                    result = work(runner, *args)
                    runner.tally.flush(runner)
                except BaseException:
                    await_only(transaction.rollback())
                    raise
                await_only(transaction.commit())
                return result
            except Exception as exc:
                error = exc
                if type(exc).__module__.startswith("asyncpg"):  # from BEGIN or COMMIT
                    error = pg_error(fairy.dbapi_connection, "BEGIN/COMMIT", [], exc)
                orig = getattr(error, "orig", None)
                connection = fairy.dbapi_connection
                lost = orig is not None and self._fast_engine.dialect.is_disconnect(
                    orig, connection, None
                )
                if lost:
                    fairy.invalidate(error)
                    # A read goes again on a new connection; a write only when nothing of it
                    # reached the server (the lost connection was found at BEGIN).
                    if attempt == 1 and (read_only or not runner.ran):
                        continue
                if error is exc:
                    raise
                raise error from exc
            finally:
                fairy.close()
        raise AssertionError("unreachable")

    async def _on_sqlite(
        self, begin: str, workers: Workers, work: Callable[..., T], *args: Any
    ) -> T:
        """Run a fast unit of work on the loop's connection, or on `workers` when SQLite
        says busy there."""
        try:
            return self._on_loop(begin, work, *args)
        except (OperationalError, sqlite3.OperationalError) as exc:
            if not _busy(exc):
                raise
        return await workers.run(self._on_thread, begin, work, *args)

    def _on_loop(self, begin: str, work: Callable[..., T], *args: Any) -> T:
        """Run a unit of work right here, on the event loop's own connection, without a hop.

        A hot unit of work takes SQLite a fraction of a millisecond, less than handing it to
        a thread and back. It never waits for a lock here (busy timeout 0): when SQLite
        answers busy (another writer holds the lock: this process's writer thread, another
        process, a backup), everything is rolled back and the caller hands the same work to a
        thread, which may wait.
        """
        assert self._statements is not None
        conn = self._loop_connection
        if conn is None:
            conn = self._loop_connection = _sqlite_connect(self._sqlite_path)
            conn.execute("PRAGMA busy_timeout=0")
        return _in_transaction(Runner(conn, self._statements), begin, work, *args)

    def _close_thread_connection(self) -> None:
        conn: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if conn is not None:
            self._local.connection = None
            conn.close()

    def _on_thread(self, begin: str, work: Callable[..., T], *args: Any) -> T:
        assert self._statements is not None
        conn: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if conn is None:
            conn = self._local.connection = _sqlite_connect(self._sqlite_path)
        return _in_transaction(Runner(conn, self._statements), begin, work, *args)

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
        if self._fast_engine is not None:
            await self._fast_engine.dispose()
        if self._loop_connection is not None:
            self._loop_connection.close()
            self._loop_connection = None
        if self._sync_engine is not None:
            self._sync_engine.dispose()
        await self._readers.stop()
        await self._writer.stop()


def ensure_sqlite_folder(url: str) -> None:
    """Create the folder of a SQLite database file (SQLite creates only the file)."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


class Executes(Protocol):
    """What a unit of work runs statements on: a Session, a Connection or a fast Reader."""

    def execute(self, statement: Any, params: Any = None, /) -> Any:
        """Run a statement with its parameters; return its result."""


def _in_transaction(runner: Runner, begin: str, work: Callable[..., T], *args: Any) -> T:
    """`work(runner, *args)` between `begin` and COMMIT on the runner's connection, its
    counter changes written last (`bot.db.tally`); ROLLBACK when it raises."""
    conn = runner.connection
    conn.execute(begin)
    runner.tally = Tally()
    try:
        result = work(runner, *args)
        runner.tally.flush(runner)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


def _sqlite_connect(path: str) -> sqlite3.Connection:
    """A worker thread's own connection, set up as the engine's connections are."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    _set_pragmas(conn)
    # A smaller page cache than SQLite's 2 MB default: each of these connections fills its
    # cache with pages of random members (the operating system caches the file anyway),
    # and four full caches are most of what the process would grow by under load.
    conn.execute(f"PRAGMA cache_size=-{THREAD_CACHE_KIB}")
    return conn


def _set_pragmas(dbapi_connection: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA wal_autocheckpoint=0")  # Database.checkpoint runs in background.
    cursor.close()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (pysqlite's own handling defers it badly).
        dbapi_connection.isolation_level = None
        _set_pragmas(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def upsert(session: Executes | AsyncSession, table: Table | Any) -> Any:
    """Return a dialect-specific INSERT that supports ON CONFLICT clauses."""
    return insert_for(dialect_of(session), table)


def prepared(build: Callable[[str], T]) -> Callable[[Executes | AsyncSession], T]:
    """A statement built once per dialect, with bind parameters for its values.

    Building a statement costs more than running it (a few hundred microseconds against
    tens); one built once is also found in SQLAlchemy's compiled cache every time after.
    `build(dialect)` returns the statement; call the result with a session to get it.
    """
    built: dict[str, T] = {}

    def get(session: Executes | AsyncSession) -> T:
        name = dialect_of(session)
        stmt = built.get(name)
        if stmt is None:
            stmt = built[name] = build(name)
        return stmt

    return get


def _busy(exc: OperationalError | sqlite3.OperationalError) -> bool:
    """Whether SQLite turned a statement away because another connection held a lock."""
    text = str(getattr(exc, "orig", exc)).lower()
    return "locked" in text or "busy" in text
