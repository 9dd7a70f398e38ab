"""Which SQL dialect a session or runner speaks, and the INSERT that goes with it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite


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
