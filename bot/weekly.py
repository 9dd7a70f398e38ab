"""Weekly times (a weekday, a time of day and a timezone) across DST, and timezone names."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.clock import UTC, as_utc
from bot.defaults import TIMEZONE

WEEKDAYS: tuple[str, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)


@dataclass(frozen=True)
class WeeklyTime:
    """Every week on `weekday` (0 = Monday) at `time`, wall clock in `timezone`.

    A time inside a spring-forward gap moves forward by the gap (02:30 becomes 03:30); an
    ambiguous fall-back time takes its first occurrence.
    """

    weekday: int
    time: dt.time
    timezone: str = TIMEZONE

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), not {self.weekday}")

    @classmethod
    def stored(
        cls, weekday: int | None, hhmm: str | None, timezone: str | None
    ) -> WeeklyTime | None:
        """Build one from database columns; None when it is not set up (or unreadable)."""
        if weekday is None or not hhmm:
            return None
        try:
            return cls(weekday, parse_stored_time(hhmm), safe_timezone(timezone))
        except ValueError:
            return None

    @property
    def hhmm(self) -> str:
        """The time of day as stored and shown: "18:00"."""
        return self.time.strftime("%H:%M")

    def next_after(self, after: dt.datetime) -> dt.datetime:
        """Return the first occurrence strictly after `after` (UTC)."""
        after = as_utc(after)
        return min(c for c in self._candidates(after) if c > after)

    def last_at_or_before(self, at: dt.datetime) -> dt.datetime:
        """Return the last occurrence at or before `at` (UTC)."""
        at = as_utc(at)
        return max(c for c in self._candidates(at) if c <= at)

    def describe(self) -> str:
        """In words: "Monday 18:00 (Europe/Berlin)"."""
        return f"{WEEKDAYS[self.weekday].capitalize()} {self.hhmm} ({self.timezone})"

    def _candidates(self, ref: dt.datetime) -> list[dt.datetime]:
        local_day = ref.astimezone(ZoneInfo(self.timezone)).date()
        base = local_day + dt.timedelta(days=(self.weekday - local_day.weekday()) % 7)
        return [
            local_to_utc(base + dt.timedelta(weeks=k), self.time, self.timezone)
            for k in (-2, -1, 0, 1)
        ]


def parse_stored_time(hhmm: str) -> dt.time:
    """Read a time of day as the database keeps it ("HH:MM")."""
    hour, minute = hhmm.split(":")
    return dt.time(int(hour), int(minute))


def local_to_utc(day: dt.date, time: dt.time, tz_name: str) -> dt.datetime:
    """Return the UTC instant of wall time `time` on `day` in `tz_name` (fold=0, see above)."""
    naive = dt.datetime.combine(day, time.replace(tzinfo=None))
    return naive.replace(tzinfo=ZoneInfo(tz_name), fold=0).astimezone(UTC)


def local_today(now: dt.datetime, tz_name: str | None) -> dt.date:
    """The date at `now` in a timezone (UTC when unset or unknown)."""
    return as_utc(now).astimezone(ZoneInfo(safe_timezone(tz_name))).date()


def safe_timezone(name: str | None) -> str:
    """Return `name` if it is a known timezone, else UTC (for stored values)."""
    if not name:
        return TIMEZONE
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return TIMEZONE
    return name


def format_when(when: dt.datetime, tz_name: str | None) -> str:
    """Format an instant for people, in a timezone: "Mon 4 Mar 2024 18:00 (Europe/Berlin)"."""
    zone = safe_timezone(tz_name)
    local = as_utc(when).astimezone(ZoneInfo(zone))
    return f"{local:%a} {local.day} {local:%b %Y %H:%M} ({zone})"


@functools.cache
def _timezones() -> tuple[tuple[str, str], ...]:
    names = sorted(available_timezones() - {"localtime", "Factory"})
    return tuple((name.lower(), name) for name in names)


@functools.cache
def _timezones_by_lower() -> dict[str, str]:
    return dict(_timezones())


def canonical_timezone(name: str) -> str | None:
    """The IANA name for `name` (case-insensitive), or None when there is no such zone."""
    return _timezones_by_lower().get(name.strip().lower())


def timezone_choices(query: str, limit: int = 25) -> list[str]:
    """Return up to `limit` (at most 25) timezone names containing `query`, prefixes first."""
    limit = max(0, min(limit, 25))
    needle = (query or "").strip().lower().replace(" ", "_")
    prefix: list[str] = []
    inside: list[str] = []
    for lower, name in _timezones():
        if not needle or lower.startswith(needle) or lower.split("/")[-1].startswith(needle):
            prefix.append(name)
            if len(prefix) >= limit:
                break
        elif needle in lower and len(inside) < limit:
            inside.append(name)
    return (prefix + inside)[:limit]


def months_between(start: dt.date, today: dt.date) -> int:
    """Whole months elapsed from `start` to `today`."""
    months = (today.year - start.year) * 12 + today.month - start.month
    if today.day < start.day:
        months -= 1
    return max(months, 0)
