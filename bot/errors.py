"""Errors a user can fix. Services raise them; the command tree turns them into replies."""

from __future__ import annotations


class UserError(Exception):
    """A mistake the user can fix; the message says what to do and is shown ephemerally."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(UserError):
    """Something the user named does not exist."""
