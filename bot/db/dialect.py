"""Which SQL dialect a session or runner speaks, and the SQL that differs between them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


def dialect_of(session: Any) -> str:
    """The name of the dialect a session, connection or runner speaks."""
    dialect = getattr(session, "dialect", None)
    if dialect is None:
        bind = getattr(session, "bind", None)
        dialect = bind.dialect if bind is not None else None
    return dialect.name if dialect is not None else "sqlite"


def insert_for(dialect: str, table: Any) -> Any:
    """A dialect-specific INSERT (with ON CONFLICT clauses) into a table or model."""
    module = postgresql if dialect == "postgresql" else sqlite
    target = table.__table__ if hasattr(table, "__table__") else table
    return module.insert(target)


class Spaced(FunctionElement[str]):
    """An aggregate: the column's values joined by spaces (SQLite's `group_concat`,
    PostgreSQL's `string_agg`), with the separator in the SQL rather than a parameter
    (SQLAlchemy's `aggregate_strings` makes it one that is rendered only at execution)."""

    type = String()
    name = "spaced"
    inherit_cache = True


@compiles(Spaced)
def _spaced_sqlite(element: Spaced, compiler: Any, **kw: Any) -> str:
    return f"group_concat({compiler.process(element.clauses, **kw)}, ' ')"


@compiles(Spaced, "postgresql")
def _spaced_postgresql(element: Spaced, compiler: Any, **kw: Any) -> str:
    return f"string_agg({compiler.process(element.clauses, **kw)}, ' ')"
