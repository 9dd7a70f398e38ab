"""The hot units of work on SQLite, straight through the sqlite3 module.

SQLAlchemy's execution of a prepared Core statement (parameters, execution context, result
object) costs several times what SQLite itself spends on an indexed read; with a session
and a pooled connection around it, a one-row read costs about a millisecond of CPU. Here a
statement is compiled by SQLAlchemy once, with its bind and result processors (so values
come back exactly as SQLAlchemy would return them: aware datetimes, dates, booleans), and
then run on a sqlite3 connection that each worker thread keeps open.

`Runner.execute(statement, params)` takes Core statements (SELECT, INSERT/UPDATE/DELETE
with or without RETURNING, `text()`) and returns a `Rows` with the part of SQLAlchemy's
`Result` interface the services use. ORM operations (`add`, `get`) are not there: a unit of
work that needs them runs on a Session (`Database.run_write`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections import namedtuple
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound
from sqlalchemy.util import await_only

from bot.db.tally import Tally

_MAX_STATEMENTS = 1000  # compiled statements kept (the hot paths have a few dozen)


class _Compiled:
    """One statement compiled for SQLite: its SQL, parameter order and value processors."""

    __slots__ = ("binds", "results", "returns_rows", "row", "sql", "statement")

    def __init__(self, statement: Any, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.statement = statement  # held, so its id() is not reused while cached
        self.sql = str(compiled)
        # Columns an INSERT or UPDATE fills from their Python-side defaults (`default=`,
        # `onupdate=`): SQLAlchemy's execution context computes those; so does this.
        filled: dict[str, Callable[[], Any]] = {}
        for attribute, which in (("insert_prefetch", "default"), ("update_prefetch", "onupdate")):
            for column in getattr(compiled, attribute, None) or ():
                filled[column.key] = _default_of(getattr(column, which))
        self.binds: list[tuple[str, Any, Callable[[Any], Any] | None, Any]] = []
        for name in compiled.positiontup or ():
            bind = compiled.binds[name]
            if bind.expanding:
                raise ValueError("IN with a list of values is not supported here: use a Session")
            # A bind the caller names is looked up by its key; a literal keeps its value.
            key = bind.key if not bind.unique else name
            process = bind.type._cached_bind_processor(dialect)
            self.binds.append((key, bind.value, process, filled.get(key)))
        columns = list(
            getattr(statement, "selected_columns", None)
            or getattr(statement, "exported_columns", None)
            or ()
        )
        self.returns_rows = bool(columns)
        self.results = [c.type._cached_result_processor(dialect, None) for c in columns]
        names = [c.key if isinstance(c.key, str) else f"_{i}" for i, c in enumerate(columns)]
        self.row: Any = namedtuple("Row", names, rename=True)  # type: ignore[misc]

    def make(self, rows: list[Any]) -> list[Any]:
        """Raw rows as named tuples of processed values."""
        make = self.row._make
        processors = self.results
        if any(processors):
            return [
                make([v if p is None else p(v) for p, v in zip(processors, row, strict=True)])
                for row in rows
            ]
        return [make(row) for row in rows]

    def parameters(self, params: dict[str, Any]) -> list[Any]:
        values = []
        for key, literal, process, fill in self.binds:
            if key in params:
                value = params[key]
            elif fill is not None:
                value = fill()
            else:
                value = literal
            values.append(process(value) if process is not None else value)
        return values


def _default_of(default: Any) -> Callable[[], Any]:
    """A column default as a function of nothing (SQLAlchemy wraps callables to take a
    context argument, which our defaults do not use)."""
    if default is None:
        return lambda: None
    if default.is_callable:
        return lambda: default.arg(None)
    if default.is_scalar:
        return lambda: default.arg
    raise ValueError(f"unsupported column default {default!r}: use a Session")


class Rows:
    """The rows of one statement, with the `Result` methods the services call.

    Rows become named tuples (with SQLAlchemy's result processing) only when asked for:
    `scalars()` of a column that needs no processing reads the raw values.
    """

    __slots__ = ("_compiled", "_raw", "_rows", "rowcount")

    def __init__(self, raw: list[Any], compiled: _Compiled | None, rowcount: int = -1) -> None:
        self._raw = raw
        self._compiled = compiled
        self._rows: list[Any] | None = None if compiled is not None else raw
        self.rowcount = rowcount

    def _made(self) -> list[Any]:
        if self._rows is None:
            assert self._compiled is not None
            self._rows = self._compiled.make(self._raw)
        return self._rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._made())

    def all(self) -> list[Any]:
        return self._made()

    def first(self) -> Any:
        rows = self._made()
        return rows[0] if rows else None

    def one_or_none(self) -> Any:
        rows = self._made()
        if len(rows) > 1:
            raise MultipleResultsFound("Multiple rows were found when one or none was required")
        return rows[0] if rows else None

    def one(self) -> Any:
        row = self.one_or_none()
        if row is None:
            raise NoResultFound("No row was found when one was required")
        return row

    def scalar(self) -> Any:
        rows = self._made()
        return rows[0][0] if rows else None

    def scalar_one_or_none(self) -> Any:
        row = self.one_or_none()
        return None if row is None else row[0]

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalars(self) -> Rows:
        compiled = self._compiled
        if self._rows is None and compiled is not None and compiled.results[:1] == [None]:
            return Rows([row[0] for row in self._raw], None)
        return Rows([row[0] for row in self._made()], None)


class _Prepared:
    """What both runners share: the statements compiled for their dialect."""

    def __init__(self, statements: Statements) -> None:
        self.statements = statements
        # A write unit's counter changes, written just before it commits (`bot.db.tally`);
        # None: written at once.
        self.tally: Tally | None = None

    @property
    def dialect(self) -> Dialect:
        return self.statements.dialect

    def _bound(self, statement: Any, params: dict[str, Any] | None) -> tuple[_Compiled, list[Any]]:
        compiled = self.statements.get(statement)
        return compiled, compiled.parameters(params or {})


class Runner(_Prepared):
    """Runs prepared Core statements on one sqlite3 connection, inside one transaction."""

    def __init__(self, connection: sqlite3.Connection, statements: Statements) -> None:
        super().__init__(statements)
        self.connection = connection

    def execute(self, statement: Any, params: dict[str, Any] | None = None) -> Rows:
        compiled, values = self._bound(statement, params)
        try:
            cursor = self.connection.execute(compiled.sql, values)
            rows = cursor.fetchall()
        except sqlite3.Error as exc:
            # The same exception classes SQLAlchemy raises (IntegrityError, OperationalError).
            raise DBAPIError.instance(compiled.sql, values, exc, sqlite3.Error) from exc
        return Rows(rows, compiled if compiled.results else None, cursor.rowcount)


class Statements:
    """Statements compiled for one dialect, by identity (they are built once, at import)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._compiled: dict[int, _Compiled] = {}
        self._lock = threading.Lock()

    def get(self, statement: Any) -> _Compiled:
        found = self._compiled.get(id(statement))
        if found is not None and found.statement is statement:
            return found
        compiled = _Compiled(statement, self.dialect)
        with self._lock:
            if len(self._compiled) >= _MAX_STATEMENTS:
                self._compiled.clear()
            self._compiled[id(statement)] = compiled
        return compiled


class PgRunner(_Prepared):
    """`Runner` on PostgreSQL: prepared Core statements straight on the asyncpg connection.

    Used inside `greenlet_spawn`, as `run_sync` is: each `execute` awaits asyncpg (its own
    prepared-statement cache) without SQLAlchemy's execution context and result objects
    around it, which cost several times what asyncpg does. The caller holds the transaction.
    """

    def __init__(self, connection: Any, adapter: Any, statements: Statements) -> None:
        super().__init__(statements)
        self.connection = connection  # asyncpg.Connection
        self.adapter = adapter  # SQLAlchemy's adapted connection: translates asyncpg's errors
        self.ran = 0  # statements run (none: the unit may go again on another connection)

    def execute(self, statement: Any, params: dict[str, Any] | None = None) -> Rows:
        compiled, values = self._bound(statement, params)
        self.ran += 1
        try:
            if compiled.returns_rows:
                rows = await_only(self.connection.fetch(compiled.sql, *values))
                return Rows(rows, compiled if compiled.results else None, len(rows))
            status = await_only(self.connection.execute(compiled.sql, *values))
        except Exception as exc:
            raise pg_error(self.adapter, compiled.sql, values, exc) from exc
        # "UPDATE 3", "INSERT 0 1", "DELETE 0": the last word is the row count.
        count = status.rsplit(" ", 1)[-1]
        return Rows([], None, int(count) if count.isdigit() else -1)


def pg_error(adapter: Any, sql: str, values: list[Any], exc: Exception) -> Exception:
    """asyncpg's exception as the SQLAlchemy one (IntegrityError, OperationalError, ...)."""
    try:
        adapter._handle_exception(exc)
    except Exception as dbapi_error:  # the DBAPI-level class SQLAlchemy wraps
        if not isinstance(dbapi_error, adapter.dbapi.Error):
            return dbapi_error
        error: Exception = DBAPIError.instance(sql, values, dbapi_error, adapter.dbapi.Error)
        return error
    return exc
