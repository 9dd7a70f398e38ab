"""Member profiles, start dates, timezones and pace against the roadmap."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
from sqlalchemy.engine import make_url

from bot.db import Database
from bot.db.models import Member
from bot.errors import UserError
from bot.roadmap import Roadmap
from bot.services.members import MemberService, months_between, pace
from bot.services.progress import ProgressService
from tests.support.fakes import FakeClock

G1, G2 = 1001, 2002
TODAY = dt.date(2025, 6, 15)


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


async def test_profile_defaults_for_unknown_member(db: Database, clock: FakeClock):
    profile = await MemberService(db, clock).profile(G1, 5)
    assert (profile.started_on, profile.timezone, profile.hidden) == (None, None, False)


async def test_update_profile_keeps_unspecified_fields(db: Database, clock: FakeClock):
    members = MemberService(db, clock)
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


async def test_update_profile_bad_timezone_changes_nothing(db: Database, clock: FakeClock):
    members = MemberService(db, clock)
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


async def test_profile_keeps_progress_and_is_per_server(
    db: Database, roadmap: Roadmap, clock: FakeClock
):
    progress = ProgressService(db, roadmap, clock)
    members = MemberService(db, clock)
    await progress.complete(G1, 5, roadmap.checklist(1)[0].id, display_name="Ann")
    await members.update_profile(G1, 5, hidden=True, started_on=dt.date(2025, 1, 1))
    mp = await progress.member_progress(G1, 5)
    assert (mp.completed, mp.hidden, mp.started_on) == (1, True, dt.date(2025, 1, 1))
    other = await members.profile(G2, 5)
    assert (other.hidden, other.started_on) == (False, None)


async def test_remember_never_erases_a_name_and_cuts_long_ones(db: Database, clock: FakeClock):
    members = MemberService(db, clock)
    await members.remember(G1, 5, "Ann")
    await members.remember(G1, 5, None)
    await members.remember(G1, 5, "")
    assert (await members.profile(G1, 5)).display_name == "Ann"
    await members.remember(G1, 5, "N" * 300)
    assert (await members.profile(G1, 5)).display_name == "N" * 100


async def test_remember_writes_only_a_changed_name(db: Database, clock: FakeClock):
    members = MemberService(db, clock)
    assert await members.remember(G1, 5, "Ann") is True  # no row yet: created
    assert await members.remember(G1, 5, "Ann") is False
    assert await members.remember(G1, 5, "Ann", known=("Ann", None)) is False
    assert await members.remember(G1, 5, "Ann\x00") is False  # the same once cleaned
    assert await members.remember(G1, 5, "") is False
    assert await members.remember(G1, 5, "Ann B.", known=("Ann", None)) is True
    assert (await members.profile(G1, 5)).display_name == "Ann B."


async def test_an_unchanged_name_never_waits_for_the_write_lock(
    db: Database, db_url: str, clock: FakeClock, sqlite_only: None
):
    members = MemberService(db, clock)
    await members.remember(G1, 5, "Ann")
    path = make_url(db_url).database
    holder = sqlite3.connect(str(path), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        # Returns while the lock is still held: it only read.
        assert await members.remember(G1, 5, "Ann") is False
    finally:
        holder.execute("COMMIT")
        holder.close()


async def test_profile_keeps_the_cards_choice_and_remember_the_avatar(
    db: Database, clock: FakeClock
) -> None:
    members = MemberService(db, clock)
    assert (await members.profile(G1, 5)).cards
    profile = await members.update_profile(G1, 5, display_name="ada", cards=False)
    assert not profile.cards and profile.display_name == "ada"
    assert not (await members.update_profile(G1, 5, hidden=True)).cards  # untouched

    async def avatar() -> str | None:
        async with db.read() as s:
            member = await s.get(Member, (G1, 5))
            assert member is not None
            return member.avatar_path

    assert await members.remember(G1, 5, "ada", avatar_path="avatars/5/abc.png")
    assert await avatar() == "avatars/5/abc.png"
    assert not await members.remember(G1, 5, "ada")  # None: leave it
    assert not await members.remember(G1, 5, "ada", avatar_path="avatars/5/abc.png")
    assert await avatar() == "avatars/5/abc.png"
    assert await members.remember(G1, 5, "ada", avatar_path="")  # the default avatar now
    assert await avatar() is None
    assert not await members.remember(G1, 5, "ada", avatar_path="", known=("ada", None))
