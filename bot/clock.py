"""The one source of "now": services and the scheduler get a clock when they are built."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

UTC = dt.UTC


class Clock(Protocol):
    """A source of the current time."""

    def now(self) -> dt.datetime:
        """Return the current time, aware, in UTC."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> dt.datetime:
        """Return the current time, aware, in UTC."""
        return dt.datetime.now(UTC)


def as_utc(value: dt.datetime) -> dt.datetime:
    """Return an aware datetime in UTC; a naive one is a bug, not a guess."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: give an aware datetime (UTC)")
    return value.astimezone(UTC)
