"""Typed slash-command options: the cog receives a value, a bad one goes to the one handler."""

from __future__ import annotations

import datetime as dt
import re

import discord
from discord import app_commands

from bot.defaults import LEVEL_COUNT
from bot.errors import UserError
from bot.weekly import WEEKDAYS, canonical_timezone, timezone_choices

LevelOption = app_commands.Range[int, 1, LEVEL_COUNT]
DAY_CHOICES = [app_commands.Choice(name=d.capitalize(), value=i) for i, d in enumerate(WEEKDAYS)]

_HHMM = re.compile(r"^\s*(\d{1,2})[:.h](\d{2})\s*$")
_DATE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")


class OptionError(app_commands.AppCommandError, UserError):
    """An option the user typed cannot be read; the message says how to write it."""

    def __init__(self, message: str) -> None:
        Exception.__init__(self, message)
        self.message = message


def parse_time_of_day(text: str) -> dt.time:
    """Read a 24-hour time such as "18:30", "9:05" or "18.30"."""
    match = _HHMM.match(text or "")
    if match:
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour < 24 and minute < 60:
            return dt.time(hour, minute)
    raise OptionError(f"Invalid time `{(text or '')[:20]}`: use 24-hour HH:MM, for example 18:30.")


def parse_day(text: str) -> dt.date:
    """Read a YYYY-MM-DD date."""
    try:
        if not _DATE.match(text or ""):
            raise ValueError(text)
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise OptionError(
            f"`{(text or '')[:40]}` is not a date: write it as YYYY-MM-DD, for example 2026-01-15."
        ) from None


def parse_timezone(text: str) -> str:
    """Read an IANA timezone name, case-insensitively."""
    canonical = canonical_timezone(text or "")
    if canonical is None:
        raise OptionError(
            f"Unknown timezone '{(text or '').strip()[:64]}': pick one from the list, "
            "e.g. Europe/Berlin"
        )
    return canonical


class _Text(app_commands.Transformer):
    max_length = 40

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.string

    @property
    def min_value(self) -> int:
        return 1

    @property
    def max_value(self) -> int:
        return self.max_length


class TimeOfDayTransformer(_Text):
    """HH:MM, 24-hour."""

    max_length = 5

    async def transform(self, interaction: discord.Interaction, value: str) -> dt.time:
        return parse_time_of_day(value)


class DayTransformer(_Text):
    """A YYYY-MM-DD date."""

    async def transform(self, interaction: discord.Interaction, value: str) -> dt.date:
        return parse_day(value)


class TimezoneTransformer(_Text):
    """An IANA timezone, with autocomplete."""

    max_length = 64

    async def transform(self, interaction: discord.Interaction, value: str) -> str:
        return parse_timezone(value)

    async def autocomplete(  # type: ignore[override]
        self, interaction: discord.Interaction, value: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=z, value=z) for z in timezone_choices(value)]


TimeOfDay = app_commands.Transform[dt.time, TimeOfDayTransformer]
Day = app_commands.Transform[dt.date, DayTransformer]
Timezone = app_commands.Transform[str, TimezoneTransformer]
