"""Member profiles, start dates, timezones and pace against the roadmap."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.db import Database
from bot.errors import UserError
from bot.roadmap import Roadmap
from bot.scheduling import validate_timezone
from bot.services.members import MemberService, months_between, pace, parse_date
from bot.services.progress import ProgressService

G1, G2 = 1001, 2002
TODAY = dt.date(2025, 6, 15)


# --- dates --------------------------------------------------------------------------------


def test_parse_date_accepts_iso_date():
    assert parse_date("2025-01-31", today=TODAY) == dt.date(2025, 1, 31)
    assert parse_date("  2025-01-31 ", today=TODAY) == dt.date(2025, 1, 31)
    assert parse_date("2025-06-15", today=TODAY) == TODAY  # today is fine


@pytest.mark.parametrize("text", ["31/01/2025", "2025-02-30", "yesterday", "", "2025-13-01"])
def test_parse_date_rejects_non_dates(text: str):
    with pytest.raises(UserError) as info:
        parse_date(text, today=TODAY)
    assert "YYYY-MM-DD" in info.value.message


def test_parse_date_rejects_future():
    with pytest.raises(UserError) as info:
        parse_date("2025-06-16", today=TODAY)
    assert "future" in info.value.message


def test_parse_date_rejects_long_ago():
    with pytest.raises(UserError) as info:
        parse_date("1900-01-01", today=TODAY)
    assert "too far back" in info.value.message


def test_parse_date_quotes_at_most_40_chars():
    with pytest.raises(UserError) as info:
        parse_date("x" * 500, today=TODAY)
    assert "x" * 41 not in info.value.message


# --- timezones ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Europe/Berlin", "America/New_York", "UTC", " Asia/Tokyo "])
def test_timezone_accepts_iana_names(name: str):
    assert validate_timezone(name) == name.strip()


def test_timezone_is_case_insensitive_and_canonical():
    assert validate_timezone("europe/berlin") == "Europe/Berlin"


@pytest.mark.parametrize(
    "name", ["Mars/Olympus", "", "../etc/passwd", "/etc/localtime", "America", "Europe/"]
)
def test_timezone_rejects_with_advice(name: str):
    # "America" is a folder of the tz database: ZoneInfo() raises IsADirectoryError for it
    with pytest.raises(UserError) as info:
        validate_timezone(name)
    assert "Unknown timezone" in info.value.message
    assert "Europe/Berlin" in info.value.message


# --- months and pace ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "today", "months"),
    [
        (dt.date(2025, 1, 31), dt.date(2025, 2, 28), 0),
        (dt.date(2025, 1, 31), dt.date(2025, 3, 1), 1),
        (dt.date(2025, 1, 31), dt.date(2025, 3, 31), 2),
        (dt.date(2025, 1, 15), dt.date(2025, 2, 14), 0),
        (dt.date(2025, 1, 15), dt.date(2025, 2, 15), 1),
        (dt.date(2024, 12, 1), dt.date(2025, 1, 1), 1),
        (dt.date(2023, 6, 15), dt.date(2025, 6, 15), 24),
        (dt.date(2025, 6, 15), dt.date(2025, 6, 15), 0),
        (dt.date(2025, 6, 20), dt.date(2025, 6, 15), 0),  # start after today: never negative
    ],
)
def test_months_between(start: dt.date, today: dt.date, months: int):
    assert months_between(start, today) == months


@pytest.mark.parametrize(
    ("level", "verdict"), [(0, "behind"), (1, "on track"), (2, "ahead"), (5, "ahead")]
)
def test_pace_in_months_6_to_12(roadmap: Roadmap, level: int, verdict: str):
    result = pace(roadmap, dt.date(2025, 1, 1), dt.date(2025, 9, 1), level)
    assert result.months == 8
    assert (result.phase.month_start, result.phase.month_end) == (6, 12)
    assert result.expected_level == 1
    assert result.verdict == verdict


def test_pace_at_phase_edges(roadmap: Roadmap):
    start = dt.date(2025, 1, 1)
    # month 0, level 0: on track
    first = pace(roadmap, start, start, 0)
    assert (first.months, first.phase.month_start, first.verdict) == (0, 0, "on track")
    assert pace(roadmap, start, start, 1).verdict == "ahead"
    # month 5 is still the first phase, month 6 the second
    assert pace(roadmap, start, dt.date(2025, 6, 30), 0).verdict == "on track"
    assert pace(roadmap, start, dt.date(2025, 7, 1), 0).verdict == "behind"
    # 36+ months: the last, open-ended phase
    late = pace(roadmap, start, dt.date(2030, 1, 1), 4)
    assert late.phase.month_end is None
    assert late.verdict == "on track"


# --- profiles -----------------------------------------------------------------------------


async def test_profile_defaults_for_unknown_member(db: Database):
    profile = await MemberService(db).profile(G1, 5)
    assert (profile.started_on, profile.timezone, profile.hidden) == (None, None, False)


async def test_update_profile_keeps_unspecified_fields(db: Database):
    members = MemberService(db)
    start = dt.date(2025, 1, 31)
    p = await members.update_profile(G1, 5, display_name="Ann", started_on=start)
    assert (p.display_name, p.started_on, p.timezone, p.hidden) == ("Ann", start, None, False)
    p = await members.update_profile(G1, 5, timezone="Europe/Berlin")
    assert (p.display_name, p.started_on, p.timezone, p.hidden) == (
        "Ann",
        start,
        "Europe/Berlin",
        False,
    )
    p = await members.update_profile(G1, 5, hidden=True)
    assert (p.started_on, p.timezone, p.hidden) == (start, "Europe/Berlin", True)
    p = await members.update_profile(G1, 5, hidden=False, display_name="Annie")
    assert (p.display_name, p.started_on, p.timezone, p.hidden) == (
        "Annie",
        start,
        "Europe/Berlin",
        False,
    )
    # a read after the fact agrees
    assert await members.profile(G1, 5) == p


async def test_update_profile_bad_timezone_changes_nothing(db: Database):
    members = MemberService(db)
    await members.update_profile(G1, 5, timezone="Asia/Tokyo")
    with pytest.raises(UserError):
        await members.update_profile(G1, 5, timezone="Mars/Olympus", hidden=True)
    with pytest.raises(UserError):
        await members.update_profile(G1, 5, timezone="America")
    p = await members.profile(G1, 5)
    assert (p.timezone, p.hidden) == ("Asia/Tokyo", False)
    # a timezone typed in lower case is stored under its canonical name
    p = await members.update_profile(G1, 5, timezone="europe/berlin")
    assert p.timezone == "Europe/Berlin"


async def test_profile_keeps_progress_and_is_per_server(db: Database, roadmap: Roadmap):
    progress = ProgressService(db, roadmap)
    members = MemberService(db)
    await progress.complete(G1, 5, roadmap.checklist(1)[0].id, display_name="Ann")
    await members.update_profile(G1, 5, hidden=True, started_on=dt.date(2025, 1, 1))
    mp = await progress.member_progress(G1, 5)
    assert (mp.completed, mp.hidden, mp.started_on) == (1, True, dt.date(2025, 1, 1))
    other = await members.profile(G2, 5)
    assert (other.hidden, other.started_on) == (False, None)


async def test_touch_remembers_display_name_without_erasing_it(db: Database):
    members = MemberService(db)
    await members.touch(G1, 5, "Ann")
    await members.touch(G1, 5, None)
    await members.touch(G1, 5, "")
    assert (await members.profile(G1, 5)).display_name == "Ann"
    await members.touch(G1, 5, "N" * 300)
    assert (await members.profile(G1, 5)).display_name == "N" * 100
