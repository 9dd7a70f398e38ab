"""Database layer: models, sessions and migrations."""

from bot.db.dialect import insert_for
from bot.db.session import Database, Executes, prepared, upsert

__all__ = ["Database", "Executes", "insert_for", "prepared", "upsert"]
