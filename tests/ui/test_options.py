"""Typed options: what a member may type for a time, a date and a timezone, and the errors."""

from __future__ import annotations

import datetime as dt

import pytest
from discord import app_commands

from bot.errors import UserError
from bot.services.members import check_start_date
from bot.ui.options import OptionError, parse_day, parse_time_of_day, parse_timezone
from bot.ui.replies import user_message

TODAY = dt.date(2025, 6, 15)


def test_times_of_day() -> None:
    assert parse_time_of_day("18:30") == dt.time(18, 30)
    assert parse_time_of_day(" 9:05 ") == dt.time(9, 5)
    assert parse_time_of_day("18.30") == dt.time(18, 30)
    for bad in ("24:00", "18:60", "6pm", "", "18"):
        with pytest.raises(OptionError, match=r"HH:MM, for example 18:30"):
            parse_time_of_day(bad)


def test_an_option_error_reaches_the_user_through_the_one_handler() -> None:
    # Raised in a transformer, it is an AppCommandError (so discord.py does not wrap it)
    # and a UserError (so the tree's handler shows its message).
    with pytest.raises(OptionError) as info:
        parse_time_of_day("6pm")
    assert isinstance(info.value, app_commands.AppCommandError)
    assert user_message(info.value) == info.value.message


def test_dates() -> None:
    assert parse_day("2025-01-31") == dt.date(2025, 1, 31)
    assert parse_day("  2025-01-31 ") == dt.date(2025, 1, 31)
    assert check_start_date(parse_day("2025-06-15"), TODAY) == TODAY  # today is fine


@pytest.mark.parametrize("text", ["31/01/2025", "2025-02-30", "yesterday", "", "2025-13-01"])
def test_non_dates_are_refused_with_the_format(text: str) -> None:
    with pytest.raises(UserError) as info:
        parse_day(text)
    assert "YYYY-MM-DD" in info.value.message


def test_a_refused_date_quotes_at_most_40_chars() -> None:
    with pytest.raises(UserError) as info:
        parse_day("x" * 500)
    assert "x" * 41 not in info.value.message


def test_start_dates_are_not_in_the_future_nor_long_ago() -> None:
    with pytest.raises(UserError, match="future"):
        check_start_date(dt.date(2025, 6, 16), TODAY)
    with pytest.raises(UserError, match="too far back"):
        check_start_date(dt.date(1900, 1, 1), TODAY)


@pytest.mark.parametrize("name", ["Europe/Berlin", "America/New_York", "UTC", " Asia/Tokyo "])
def test_timezone_accepts_iana_names(name: str) -> None:
    assert parse_timezone(name) == name.strip()


def test_timezone_is_case_insensitive_and_canonical() -> None:
    assert parse_timezone("europe/berlin") == "Europe/Berlin"


@pytest.mark.parametrize(
    "name", ["Mars/Olympus", "", "../etc/passwd", "/etc/localtime", "America", "Europe/"]
)
def test_timezone_rejects_with_advice(name: str) -> None:
    # "America" is a folder of the tz database: ZoneInfo() raises IsADirectoryError for it
    with pytest.raises(UserError) as info:
        parse_timezone(name)
    assert "Unknown timezone" in info.value.message
    assert "Europe/Berlin" in info.value.message
