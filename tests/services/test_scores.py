"""The leaderboard counters agree with a recount from the completions, whatever happens."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from unittest.mock import patch
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.db import Database
from bot.db.counters import check_counters
from bot.db.models import Completion, Member
from bot.roadmap import Roadmap
from bot.services import insights, leaderboard
from bot.services.assessments import AssessmentService
from bot.services.checkins import Answers, CheckinService
from bot.services.guilds import GuildService, save_settings
from bot.services.leaderboard import LeaderboardService, Period, period_start
from bot.services.members import MemberService
from bot.services.mydata import MyDataService
from bot.services.progress import ProgressService
from bot.weekly import WeeklyTime
from tests.support.fakes import FakeClock

GUILD, OTHER = 7, 8
START = dt.datetime(2026, 2, 20, 9, 0, tzinfo=dt.UTC)  # a month end and a week start ahead
TZ = "America/New_York"


async def expected(
    db: Database, guild_id: int, since: dt.datetime | None, now: dt.datetime
) -> list[tuple[int, int]]:
    """(user, count) in ranking order, recounted from the completions themselves."""
    async with db.read() as s:
        hidden = set(
            await s.scalars(
                select(Member.user_id).where(Member.guild_id == guild_id, Member.hidden)
            )
        )
        rows = (
            await s.execute(
                select(Completion.user_id, Completion.completed_at).where(
                    Completion.guild_id == guild_id
                )
            )
        ).all()
    tally: dict[int, tuple[int, dt.datetime]] = {}
    for user_id, at in rows:
        if user_id in hidden or (since is not None and at < since):
            continue
        n, last = tally.get(user_id, (0, at))
        tally[user_id] = (n + 1, max(last, at))
    ranked = sorted(tally.items(), key=lambda kv: (-kv[1][0], kv[1][1], kv[0]))
    return [(user_id, n) for user_id, (n, _) in ranked]


async def board_of(
    board: LeaderboardService, period: Period, now: dt.datetime
) -> list[tuple[int, int]]:
    found = await pages_of(board, period, now)
    if period is Period.ALL:  # a deep page's way (from its count's bucket) agrees
        with patch.object(leaderboard, "_SHALLOW", 0):
            assert await pages_of(board, period, now) == found
    return found


async def pages_of(
    board: LeaderboardService, period: Period, now: dt.datetime
) -> list[tuple[int, int]]:
    first = await board.page(GUILD, period, 0, as_of=now)
    found = [(e.user_id, e.completed) for e in first.entries]
    for page in range(1, first.pages):
        found += [
            (e.user_id, e.completed)
            for e in (await board.page(GUILD, period, page, as_of=now)).entries
        ]
    assert first.total == len(found)
    return found


async def links_hold(db: Database, roadmap: Roadmap, guild_id: int) -> None:
    """Every checklist item naming projects is done exactly when all its projects are."""
    async with db.read() as s:
        rows = (
            await s.execute(
                select(Completion.user_id, Completion.item_id).where(
                    Completion.guild_id == guild_id
                )
            )
        ).all()
    done: dict[int, set[str]] = {}
    for user_id, item_id in rows:
        done.setdefault(user_id, set()).add(item_id)
    for user_id, ids in done.items():
        for level in roadmap.levels:
            for item in level.checklist:
                projects = roadmap.projects_of(item.id)
                if projects:
                    all_done = all(p.id in ids for p in projects)
                    assert (item.id in ids) == all_done, (user_id, item.id)


async def insight_counters_agree(db: Database, guild_id: int) -> None:
    async with db.read() as s:
        stored = await s.run_sync(insights.stored_counts, guild_id)
        expected = await s.run_sync(insights.recount, guild_id)
    assert stored == expected


class RandomActivity:
    """Members doing random things in GUILD (and completing items in OTHER), and the check
    that every board, rank and counter still agrees with a recount."""

    def __init__(self, db: Database, roadmap: Roadmap, clock: FakeClock) -> None:
        self.db, self.roadmap, self.clock = db, roadmap, clock
        self.progress = ProgressService(db, roadmap, clock)
        self.members = MemberService(db, clock)
        self.mydata = MyDataService(db, clock)
        self.board = LeaderboardService(db, clock)
        self.checkins = CheckinService(db, clock)
        self.assessments = AssessmentService(db, roadmap, clock)
        # Items and projects alike; checklist items (those naming projects most) come up often.
        checklist = [i.id for i in roadmap.items if i.is_checklist]
        linked = [i for i in checklist if roadmap.projects_of(i)]
        self.items = [i.id for i in roadmap.trackable] + checklist * 3 + linked * 4
        self.metrics = [m.id for m in roadmap.metrics]
        self.levels_seen: set[int] = set()

    async def setup(self) -> None:
        await self.checkins.configure(
            GUILD, channel_id=1, schedule=WeeklyTime(0, dt.time(18, 0), TZ)
        )
        await GuildService(self.db, self.clock).set_threshold(GUILD, 30)  # levels come and go

    async def open_cycle(self) -> None:
        """Close the check-in that has ended and open the next (the scheduler's work)."""
        if await self.checkins.open_cycle_for(GUILD) is None:
            for cycle in await self.checkins.unclosed_cycles(GUILD):
                await self.checkins.close_cycle(cycle.id)
            await self.checkins.open_cycle(GUILD)

    async def act(
        self, rng: random.Random, user: int, now: dt.datetime, step: int, cycles: bool = True
    ) -> None:
        """One random thing `user` does at `now` (with `cycles`, opening a check-in first
        if none is open)."""
        roll = rng.random()
        if roll < 0.08:
            if cycles:
                await self.open_cycle()
            await self.checkins.submit_answer(GUILD, user, None, Answers(learned="x", hours="1"))
        elif roll < 0.14:
            chosen = rng.sample(self.metrics, rng.randint(1, 6))
            await self.assessments.save(GUILD, user, {m: rng.randint(1, 5) for m in chosen})
        elif roll < 0.17:
            started = (now - dt.timedelta(days=rng.randint(0, 900))).date()
            await self.members.update_profile(GUILD, user, started_on=started)
        elif roll < 0.70:
            change = await self.progress.complete(GUILD, user, rng.choice(self.items))
            self.levels_seen.add(change.new_level)
            if step % 3 == 0:  # the same people progress in another server too
                await self.progress.complete(OTHER, user, rng.choice(self.items))
        elif roll < 0.90:
            done = sorted(await self.progress.done_ids(GUILD, user))
            if done:
                await self.progress.undo(GUILD, user, rng.choice(done))
        elif roll < 0.97:
            profile = await self.members.profile(GUILD, user)
            await self.members.update_profile(GUILD, user, hidden=not profile.hidden)
        else:
            await self.mydata.delete(GUILD, user)

    async def check(self, now: dt.datetime) -> None:
        board, db = self.board, self.db
        tz = ZoneInfo(TZ)
        assert await board_of(board, Period.ALL, now) == await expected(db, GUILD, None, now)
        for period in (Period.WEEK, Period.MONTH):
            since = period_start(period, now, tz)
            assert await board_of(board, period, now) == await expected(db, GUILD, since, now)
        ranking = await expected(db, GUILD, None, now)
        for position, (user_id, _) in enumerate(ranking, start=1):
            assert await board.rank(GUILD, user_id) == position
        async with db.engine.connect() as conn:  # every counter, as `db copy` checks them
            assert await conn.run_sync(check_counters, now) == []
        for guild_id in (GUILD, OTHER):
            await links_hold(db, self.roadmap, guild_id)
            await insight_counters_agree(db, guild_id)


async def test_counters_match_a_recount_after_random_activity(
    db: Database, roadmap: Roadmap, clock: FakeClock
) -> None:
    activity = RandomActivity(db, roadmap, clock)
    await activity.setup()
    rng = random.Random(2026)
    now = START
    for step in range(400):
        now += dt.timedelta(minutes=rng.choice((1, 7, 90, 600, 6000)))
        clock.set(now)
        await activity.act(rng, rng.choice(range(1, 17)), now, step)
        if step % 80 == 79:
            await activity.check(now)
    assert activity.levels_seen >= {0, 1}  # the level counters were exercised


async def test_counters_match_a_recount_after_concurrent_activity(
    db: Database, roadmap: Roadmap, clock: FakeClock
) -> None:
    """Eight things at once, again and again: on PostgreSQL, transactions that change the
    same counter rows at the same time (a deadlock fails the test)."""
    activity = RandomActivity(db, roadmap, clock)
    await activity.setup()
    rng = random.Random(7)
    now = START
    for step in range(60):
        now += dt.timedelta(minutes=rng.choice((1, 90, 600, 6000)))
        clock.set(now)
        await activity.open_cycle()
        users = [rng.randint(1, 10) for _ in range(8)]
        # Each its own random numbers: the same choices however the eight interleave.
        acts = [(random.Random(rng.random()), user) for user in users]
        await asyncio.gather(*(activity.act(r, user, now, step, cycles=False) for r, user in acts))
        if step % 20 == 19:
            await activity.check(now)
    assert max(activity.levels_seen) > 0  # the level counters were exercised


async def test_a_new_timezone_recounts_this_week(
    db: Database, roadmap: Roadmap, clock: FakeClock
) -> None:
    progress = ProgressService(db, roadmap, clock)
    board = LeaderboardService(db, clock)
    async with db.write.begin() as s:
        await save_settings(s, GUILD, {"timezone": "UTC"}, clock.now())
    monday = dt.datetime.now(dt.UTC)
    monday = (monday - dt.timedelta(days=monday.weekday())).replace(
        hour=2, minute=0, second=0, microsecond=0
    )
    # 02:00 UTC on Monday is still Sunday evening in New York: last week there.
    progress.clock.set(monday)
    await progress.complete(GUILD, 1, roadmap.items[0].id)
    progress.clock.set(monday + dt.timedelta(hours=6))
    await progress.complete(GUILD, 2, roadmap.items[0].id)
    now = monday + dt.timedelta(hours=7)
    assert [e.user_id for e in (await board.page(GUILD, Period.WEEK, as_of=now)).entries] == [1, 2]
    await CheckinService(db, clock).configure(
        GUILD, channel_id=1, schedule=WeeklyTime(0, dt.time(18, 0), TZ)
    )
    assert [e.user_id for e in (await board.page(GUILD, Period.WEEK, as_of=now)).entries] == [2]
