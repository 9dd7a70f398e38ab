"""LeaderboardService against a real SQLite file: order, ties, pages, periods, isolation."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.db import Database
from bot.roadmap import Roadmap
from bot.services import leaderboard
from bot.services.guilds import save_settings
from bot.services.leaderboard import PAGE_SIZE, LeaderboardService, Period, period_start
from bot.services.members import MemberService
from bot.services.progress import ProgressService
from tests.support.fakes import FakeClock

G1, G2 = 1001, 2002
T0 = dt.datetime(2025, 3, 3, 12, 0, tzinfo=dt.UTC)
NY, TOKYO = ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def local(tz: ZoneInfo, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=tz)  # type: ignore[misc]


@pytest.fixture
def progress(db: Database, roadmap: Roadmap, clock: FakeClock) -> ProgressService:
    return ProgressService(db, roadmap, clock)


@pytest.fixture
def board(db: Database, clock: FakeClock) -> LeaderboardService:
    return LeaderboardService(db, clock)


@pytest.fixture
def ids(roadmap: Roadmap) -> list[str]:
    """Milestone ids (they never change levels, so counts stay simple)."""
    return [i.id for i in roadmap.items if not i.is_checklist]


async def set_guild_tz(db: Database, guild_id: int, name: str) -> None:
    async with db.write.begin() as s:
        await save_settings(s, guild_id, {"timezone": name}, T0)


@pytest.fixture(params=["first pages from the top", "every page from its bucket"])
def deep(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ways to an all-time page: the first pages read from the top of the ranking, the
    deeper ones start at their count (here: every page, as a big server's deep pages)."""
    if request.param == "every page from its bucket":
        monkeypatch.setattr(leaderboard, "_SHALLOW", 0)


def order(page) -> list[int]:
    return [e.user_id for e in page.entries]


async def test_empty_board(board: LeaderboardService):
    page = await board.page(G1, Period.ALL)
    assert (page.entries, page.page, page.pages, page.total) == ((), 0, 1, 0)
    page = await board.page(G1, Period.WEEK, 3, as_of=at(0))
    assert (page.entries, page.page, page.pages, page.total) == ((), 0, 1, 0)
    assert await board.rank(G1, 1) is None


async def test_order_by_count_then_who_got_there_first(
    progress: ProgressService, board: LeaderboardService, ids: list[str]
):
    # user 3: 3 items; users 1 and 2: 2 items, 2 reached 2 first; user 4: 1 item
    progress.clock.set(at(0))
    await progress.complete(G1, 1, ids[0], display_name="One")
    progress.clock.set(at(1))
    await progress.complete(G1, 2, ids[0], display_name="Two")
    progress.clock.set(at(2))
    await progress.complete(G1, 2, ids[1])
    progress.clock.set(at(3))
    await progress.complete(G1, 1, ids[1])
    for n in range(3):
        progress.clock.set(at(10 + n))
        await progress.complete(G1, 3, ids[n], display_name="Three")
    progress.clock.set(at(0))
    await progress.complete(G1, 4, ids[0], display_name="Four")

    page = await board.page(G1, Period.ALL)
    assert order(page) == [3, 2, 1, 4]
    assert [e.rank for e in page.entries] == [1, 2, 3, 4]
    assert [e.completed for e in page.entries] == [3, 2, 2, 1]
    assert page.entries[0].display_name == "Three"
    assert [await board.rank(G1, u) for u in (3, 2, 1, 4)] == [1, 2, 3, 4]


async def test_exact_tie_time_falls_back_to_a_stable_order(
    progress: ProgressService, board: LeaderboardService, ids: list[str]
):
    for user in (7, 5, 6):
        progress.clock.set(at(0))
        await progress.complete(G1, user, ids[0])
    page = await board.page(G1, Period.ALL)
    assert order(page) == [5, 6, 7]
    assert [await board.rank(G1, u) for u in (5, 6, 7)] == [1, 2, 3]


async def test_hidden_and_zero_members_are_not_listed(
    progress: ProgressService,
    board: LeaderboardService,
    db: Database,
    ids: list[str],
    clock: FakeClock,
):
    members = MemberService(db, clock)
    progress.clock.set(at(0))
    await progress.complete(G1, 1, ids[0])
    progress.clock.set(at(1))
    await progress.complete(G1, 2, ids[0])
    progress.clock.set(at(2))
    await progress.complete(G1, 2, ids[1])
    await members.update_profile(G1, 2, hidden=True)
    await members.remember(G1, 3, "Zero")  # known member, nothing done
    progress.clock.set(at(3))
    await progress.complete(G1, 4, ids[0])
    progress.clock.set(at(4))
    await progress.undo(G1, 4, ids[0])  # back to zero

    for period in Period:
        page = await board.page(G1, period, as_of=at(60))
        assert order(page) == [1], period
        assert page.total == 1
    assert await board.rank(G1, 1) == 1
    assert await board.rank(G1, 2) is None
    assert await board.rank(G1, 3) is None
    assert await board.rank(G1, 4) is None
    assert await board.rank(G1, 999) is None

    # showing the member again ranks them by what they did
    await members.update_profile(G1, 2, hidden=False)
    assert order(await board.page(G1, Period.ALL)) == [2, 1]
    assert await board.rank(G1, 2) == 1
    assert await board.rank(G1, 1) == 2


async def test_pages_of_ten_and_clamping(
    progress: ProgressService, board: LeaderboardService, ids: list[str], deep: None
):
    # 23 members, member u has done (u % 3) + 1 items
    for user in range(1, 24):
        for n in range(user % 3 + 1):
            progress.clock.set(at(user * 10 + n))
            await progress.complete(G1, user, ids[n])
    first = await board.page(G1, Period.ALL, 0)
    assert (first.page, first.pages, first.total) == (0, 3, 23)
    assert len(first.entries) == PAGE_SIZE == 10
    last = await board.page(G1, Period.ALL, 2)
    assert len(last.entries) == 3
    assert [e.rank for e in last.entries] == [21, 22, 23]
    clamped = await board.page(G1, Period.ALL, 99)
    assert clamped.page == 2
    assert clamped.entries == last.entries
    negative = await board.page(G1, Period.ALL, -4)
    assert negative.page == 0
    assert negative.entries == first.entries
    everyone = [
        e for p in range(first.pages) for e in (await board.page(G1, Period.ALL, p)).entries
    ]
    assert sorted(e.user_id for e in everyone) == list(range(1, 24))
    counts = [e.completed for e in everyone]
    assert counts == sorted(counts, reverse=True)


async def test_pages_walk_down_many_counts(
    progress: ProgressService, board: LeaderboardService, ids: list[str], deep: None
):
    # 25 members, member u has done u items: every count has its own bucket, so the pages
    # below the first few counts start further down than the first buckets read
    for user in range(1, 26):
        for n in range(user):
            progress.clock.set(at(user * 100 + n))
            await progress.complete(G1, user, ids[n])
    pages = [await board.page(G1, Period.ALL, p) for p in range(3)]
    assert [(p.page, p.pages, p.total) for p in pages] == [(0, 3, 25), (1, 3, 25), (2, 3, 25)]
    assert [e.user_id for p in pages for e in p.entries] == list(range(25, 0, -1))
    assert [e.rank for p in pages for e in p.entries] == list(range(1, 26))
    assert [e.completed for e in pages[2].entries] == [5, 4, 3, 2, 1]
    assert (await board.page(G1, Period.ALL, 7)).entries == pages[2].entries


async def test_rank_agrees_with_page_position_for_25_members_with_ties(
    progress: ProgressService,
    board: LeaderboardService,
    db: Database,
    ids: list[str],
    clock: FakeClock,
    deep: None,
):
    members = MemberService(db, clock)
    for user in range(1, 26):
        count = user % 4 + 1
        for n in range(count):
            # many members share completion times: ties on count and on time
            progress.clock.set(at(n * 10 + user % 3))
            await progress.complete(G1, user, ids[n])
    await members.update_profile(G1, 4, hidden=True)
    await members.update_profile(G1, 13, hidden=True)
    await members.remember(G1, 26, "nothing done")

    seen: list[int] = []
    page_no = 0
    while True:
        page = await board.page(G1, Period.ALL, page_no)
        for entry in page.entries:
            assert await board.rank(G1, entry.user_id) == entry.rank, entry
            seen.append(entry.user_id)
        if page_no >= page.pages - 1:
            break
        page_no += 1
    assert page.total == 23
    assert len(seen) == len(set(seen)) == 23
    assert 4 not in seen and 13 not in seen and 26 not in seen
    assert [await board.rank(G1, u) for u in (4, 13, 26)] == [None, None, None]


async def test_undo_updates_count_and_tie_time(
    progress: ProgressService, board: LeaderboardService, ids: list[str]
):
    # A: items at t2 and t5. B: items at t1, t3 and t6.
    progress.clock.set(at(2))
    await progress.complete(G1, 1, ids[0])
    progress.clock.set(at(5))
    await progress.complete(G1, 1, ids[1])
    progress.clock.set(at(1))
    await progress.complete(G1, 2, ids[0])
    progress.clock.set(at(3))
    await progress.complete(G1, 2, ids[1])
    progress.clock.set(at(6))
    await progress.complete(G1, 2, ids[2])
    assert order(await board.page(G1, Period.ALL)) == [2, 1]
    # B undoes the newest item: 2 each, and B reached 2 at t3, before A (t5)
    progress.clock.set(at(7))
    await progress.undo(G1, 2, ids[2])
    page = await board.page(G1, Period.ALL)
    assert order(page) == [2, 1]
    assert [e.completed for e in page.entries] == [2, 2]
    # B undoes the t1 item: B has 1, A leads
    progress.clock.set(at(8))
    await progress.undo(G1, 2, ids[0])
    page = await board.page(G1, Period.ALL)
    assert order(page) == [1, 2]
    assert [e.completed for e in page.entries] == [2, 1]
    assert await board.rank(G1, 2) == 2

    # the same in a week window
    week = await board.page(G1, Period.WEEK, as_of=at(60))
    assert order(week) == [1, 2]
    assert [e.completed for e in week.entries] == [2, 1]


async def test_servers_are_isolated(
    progress: ProgressService, board: LeaderboardService, ids: list[str]
):
    progress.clock.set(at(0))
    await progress.complete(G1, 1, ids[0])
    progress.clock.set(at(1))
    await progress.complete(G1, 2, ids[0])
    progress.clock.set(at(2))
    await progress.complete(G1, 2, ids[1])
    for n in range(3):
        progress.clock.set(at(n))
        await progress.complete(G2, 1, ids[n])
    assert order(await board.page(G1, Period.ALL)) == [2, 1]
    assert order(await board.page(G2, Period.ALL)) == [1]
    assert await board.rank(G1, 1) == 2
    assert await board.rank(G2, 1) == 1
    assert await board.rank(G2, 2) is None
    g2 = await board.page(G2, Period.WEEK, as_of=at(30))
    assert order(g2) == [1]
    assert g2.entries[0].completed == 3
    g1 = await board.page(G1, Period.WEEK, as_of=at(30))
    assert [e.completed for e in g1.entries] == [2, 1]


async def test_level_shown_on_board(
    progress: ProgressService, board: LeaderboardService, roadmap: Roadmap
):
    for n, item in enumerate(roadmap.checklist(1)):
        progress.clock.set(at(n))
        await progress.complete(G1, 1, item.id)
    page = await board.page(G1, Period.ALL)
    assert page.entries[0].level == 1


# --- periods ------------------------------------------------------------------------------


def test_period_start_week_and_month():
    utc = ZoneInfo("UTC")
    wed = dt.datetime(2025, 3, 12, 15, 0, tzinfo=dt.UTC)
    assert period_start(Period.ALL, wed, utc) is None
    assert period_start(Period.WEEK, wed, utc) == dt.datetime(2025, 3, 10, tzinfo=dt.UTC)
    assert period_start(Period.MONTH, wed, utc) == dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    # Monday 00:00 itself is the start of its own week
    monday = dt.datetime(2025, 3, 10, tzinfo=dt.UTC)
    assert period_start(Period.WEEK, monday, utc) == monday
    # in New York, just after DST began (Sunday 9 March 2025), Monday 00:00 is 04:00 UTC
    assert period_start(Period.WEEK, wed, NY) == dt.datetime(2025, 3, 10, 4, tzinfo=dt.UTC)
    # in Tokyo, early Monday local time is still Sunday in UTC
    tokyo_monday = local(TOKYO, 2025, 3, 10, 1, 0)
    assert period_start(Period.WEEK, tokyo_monday, TOKYO) == dt.datetime(
        2025, 3, 9, 15, tzinfo=dt.UTC
    )
    # month start in winter time in New York is 05:00 UTC
    assert period_start(Period.MONTH, dt.datetime(2025, 1, 20, tzinfo=dt.UTC), NY) == (
        dt.datetime(2025, 1, 1, 5, tzinfo=dt.UTC)
    )


async def test_default_week_is_utc(
    progress: ProgressService, board: LeaderboardService, ids: list[str]
):
    progress.clock.set(dt.datetime(2025, 3, 9, 23, 30, tzinfo=dt.UTC))
    await progress.complete(G1, 1, ids[0])
    progress.clock.set(dt.datetime(2025, 3, 10, 0, 30, tzinfo=dt.UTC))
    await progress.complete(G1, 2, ids[0])
    page = await board.page(G1, Period.WEEK, as_of=dt.datetime(2025, 3, 12, tzinfo=dt.UTC))
    assert page.since == dt.datetime(2025, 3, 10, tzinfo=dt.UTC)
    assert order(page) == [2]


@pytest.mark.parametrize("tz", [NY, TOKYO], ids=["new_york", "tokyo"])
async def test_week_starts_monday_midnight_in_guild_timezone(
    progress: ProgressService,
    board: LeaderboardService,
    db: Database,
    ids: list[str],
    tz: ZoneInfo,
):
    await set_guild_tz(db, G1, tz.key)
    sunday_late = local(tz, 2025, 3, 9, 23, 30)
    monday_early = local(tz, 2025, 3, 10, 0, 30)
    progress.clock.set(sunday_late)
    await progress.complete(G1, 1, ids[0])
    progress.clock.set(monday_early)
    await progress.complete(G1, 2, ids[0])
    progress.clock.set(sunday_late)
    await progress.complete(G1, 3, ids[0])
    progress.clock.set(monday_early + dt.timedelta(hours=1))
    await progress.complete(G1, 3, ids[1])

    now = local(tz, 2025, 3, 12, 9, 0)
    # The same week whoever asks: a member (their row brings the server's timezone), one
    # the bot has not seen, or nobody.
    for viewer in (2, 99, None):
        week = await board.page(G1, Period.WEEK, as_of=now, viewer=viewer, cards_for=viewer)
        assert week.since == local(tz, 2025, 3, 10, 0, 0)
        assert order(week) == [2, 3]  # 1 each this week: 2 got there first
        assert [e.completed for e in week.entries] == [1, 1]
        assert week.total == 2
    # all-time still has everyone, with every completion
    assert order(await board.page(G1, Period.ALL, as_of=now)) == [3, 1, 2]


async def test_month_starts_on_the_first_in_guild_timezone(
    progress: ProgressService, board: LeaderboardService, db: Database, ids: list[str]
):
    await set_guild_tz(db, G1, "America/New_York")
    march_end = local(NY, 2025, 3, 31, 23, 30)  # already 1 April in UTC
    april_start = local(NY, 2025, 4, 1, 0, 30)
    progress.clock.set(march_end)
    await progress.complete(G1, 1, ids[0])
    progress.clock.set(april_start)
    await progress.complete(G1, 2, ids[0])
    progress.clock.set(april_start + dt.timedelta(days=3))
    await progress.complete(G1, 2, ids[1])
    month = await board.page(G1, Period.MONTH, as_of=local(NY, 2025, 4, 15, 12, 0))
    assert month.since == local(NY, 2025, 4, 1, 0, 0)
    assert order(month) == [2]
    assert month.entries[0].completed == 2


async def test_period_pages(progress: ProgressService, board: LeaderboardService, ids: list[str]):
    for user in range(1, 13):
        for n in range(user % 2 + 1):
            progress.clock.set(at(user + n))
            await progress.complete(G1, user, ids[n])
    progress.clock.set(at(-60 * 24 * 7))
    await progress.complete(G1, 50, ids[0])  # last week
    first = await board.page(G1, Period.WEEK, 0, as_of=at(60))
    assert (first.total, first.pages, len(first.entries)) == (12, 2, 10)
    second = await board.page(G1, Period.WEEK, 5, as_of=at(60))
    assert second.page == 1
    assert [e.rank for e in second.entries] == [11, 12]
    everyone = [e.user_id for e in first.entries + second.entries]
    assert sorted(everyone) == list(range(1, 13))
    # odd users (2 items) first, in the order they got there
    assert everyone[:6] == [1, 3, 5, 7, 9, 11]


async def test_entries_carry_the_avatar_last_seen(
    db: Database, progress: ProgressService, board: LeaderboardService, clock: FakeClock
) -> None:
    members = MemberService(db, clock)
    first = progress.roadmap.items[0].id
    await progress.complete(G1, 1, first, display_name="ada")
    await progress.complete(G1, 2, first, display_name="bob")
    await members.remember(G1, 2, "bob", avatar_path="avatars/2/b0b.png")
    starts = {Period.ALL: None, Period.WEEK: dt.date(2025, 3, 3), Period.MONTH: dt.date(2025, 3, 1)}
    for period in Period:
        page = await board.page(G1, period)
        assert [(e.user_id, e.avatar_path) for e in page.entries] == [
            (1, None),
            (2, "avatars/2/b0b.png"),
        ]
        assert page.starts_on == starts[period]  # the card's "since", in the server's days
