"""Weekly times across DST, and timezone names."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.weekly import WeeklyTime, format_when, timezone_choices

UTC = dt.UTC
# Monday 4 March 2024, 18:00 in Berlin (CET, UTC+1).
DUE = dt.datetime(2024, 3, 4, 17, 0, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def weekly(weekday: int, hhmm: str, zone: str) -> WeeklyTime:
    hour, minute = hhmm.split(":")
    return WeeklyTime(weekday, dt.time(int(hour), int(minute)), zone)


# --- weekly times across DST ----------------------------------------------------------------


def test_berlin_0230_across_spring_forward() -> None:
    # Sundays 02:30 Europe/Berlin; on 31 March 2024 02:00-03:00 does not exist.
    before = weekly(6, "02:30", "Europe/Berlin").next_after(utc(2024, 3, 20, 12, 0))
    gap = weekly(6, "02:30", "Europe/Berlin").next_after(before)
    after = weekly(6, "02:30", "Europe/Berlin").next_after(gap)
    assert before == utc(2024, 3, 24, 1, 30)  # 02:30 CET
    assert gap == utc(2024, 3, 31, 1, 30)  # moved forward by the gap: 03:30 CEST
    assert after == utc(2024, 4, 7, 0, 30)  # 02:30 CEST
    assert weekly(6, "02:30", "Europe/Berlin").last_at_or_before(utc(2024, 4, 1)) == gap


def test_berlin_ambiguous_time_takes_first_occurrence() -> None:
    # 27 October 2024: 02:30 happens twice in Berlin; the first is 00:30 UTC (CEST).
    sunday = weekly(6, "02:30", "Europe/Berlin")
    assert sunday.next_after(utc(2024, 10, 26)) == utc(2024, 10, 27, 0, 30)


def test_new_york_0900_across_november_change() -> None:
    first = weekly(0, "09:00", "America/New_York").next_after(utc(2024, 10, 25))
    second = weekly(0, "09:00", "America/New_York").next_after(first)
    assert first == utc(2024, 10, 28, 13, 0)  # EDT, UTC-4
    assert second == utc(2024, 11, 4, 14, 0)  # EST, UTC-5
    # The ambiguous 01:30 of 3 November 2024 (a Sunday) is its first, EDT, occurrence.
    sunday = weekly(6, "01:30", "America/New_York")
    assert sunday.next_after(utc(2024, 11, 2)) == utc(2024, 11, 3, 5, 30)


def test_next_is_strictly_after_previous_is_inclusive() -> None:
    assert weekly(0, "18:00", "Europe/Berlin").last_at_or_before(DUE) == DUE
    assert weekly(0, "18:00", "Europe/Berlin").next_after(DUE) == DUE + dt.timedelta(weeks=1)
    assert weekly(0, "18:00", "Europe/Berlin").next_after(DUE - dt.timedelta(seconds=1)) == DUE
    assert weekly(0, "18:00", "Europe/Berlin").last_at_or_before(DUE - dt.timedelta(seconds=1)) == (
        DUE - dt.timedelta(weeks=1)
    )
    with pytest.raises(ValueError):
        weekly(0, "18:00", "UTC").next_after(dt.datetime(2024, 3, 4))  # noqa: DTZ001


def test_a_weekday_outside_the_week_is_refused() -> None:
    with pytest.raises(ValueError, match="0 \\(Monday\\) to 6 \\(Sunday\\)"):
        WeeklyTime(7, dt.time(9))


def test_stored_columns_make_a_schedule_only_when_complete() -> None:
    assert WeeklyTime.stored(0, "18:00", "Europe/Berlin") == weekly(0, "18:00", "Europe/Berlin")
    assert WeeklyTime.stored(0, "18:00", "Nowhere/Else") == weekly(0, "18:00", "UTC")
    assert WeeklyTime.stored(None, "18:00", None) is None
    assert WeeklyTime.stored(0, None, None) is None
    assert weekly(0, "18:00", "Europe/Berlin").describe() == "Monday 18:00 (Europe/Berlin)"


def test_format_when_uses_the_timezone() -> None:
    assert format_when(DUE, "Europe/Berlin") == "Mon 4 Mar 2024 18:00 (Europe/Berlin)"


def test_timezone_choices() -> None:
    assert "Europe/Berlin" in timezone_choices("berl")
    assert timezone_choices("new_york")[0] == "America/New_York"
    assert "America/New_York" in timezone_choices("new york")
    assert len(timezone_choices("")) == 25
    assert len(timezone_choices("a", limit=100)) == 25
    assert timezone_choices("zzzz-none") == []
