"""Database layer: models, sessions and migrations."""

from bot.db.session import Database, Executes, insert_for, prepared, upsert

__all__ = ["Database", "Executes", "insert_for", "prepared", "upsert"]
