"""Database layer: models, sessions and migrations."""

from bot.db.session import Database, upsert

__all__ = ["Database", "upsert"]
