"""A database seeded through the real services, and ways to compare two of them."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from bot.db import Database, upsert
from bot.db.models import Base, BotState, JobRun, Member
from bot.roadmap import Roadmap
from bot.services.checkins import Answers, CheckinService
from bot.services.guilds import GuildService
from bot.services.leaderboard import LeaderboardService, Page, Period
from bot.services.members import MemberService
from bot.services.mydata import MyDataService
from bot.services.progress import MemberProgress, ProgressService
from bot.weekly import WeeklyTime
from tests.support.fakes import FakeClock

GUILDS = (101, 202, 303)
NEW_YORK = 202  # this server's weeks and months start at midnight in New York


@dataclass(frozen=True)
class Seeded:
    """What the seed made, for the comparisons."""

    now: dt.datetime
    members: dict[int, list[int]]  # guild -> user ids


async def seed(db: Database, roadmap: Roadmap, *, members: int = 12, seed: int = 9) -> Seeded:
    """Several servers and members: completions over eight weeks up to now, undos, a hidden
    member, one gone (mydata delete), away periods, an admin grant, a level reached and
    announced, a level role, a check-in cycle with answers, scheduler and bot state rows."""
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=5)
    clock = FakeClock(now - dt.timedelta(days=56))
    progress = ProgressService(db, roadmap, clock)
    people = MemberService(db, clock)
    checkins = CheckinService(db, clock)
    guilds = GuildService(db, clock)
    items = [i.id for i in roadmap.items]
    level_one = [i.id for lv in roadmap.levels if lv.number == 1 for i in lv.checklist]
    await checkins.configure(
        NEW_YORK, channel_id=9, schedule=WeeklyTime(0, dt.time(18, 0), "America/New_York")
    )
    await guilds.set_level_role(GUILDS[0], 1, role_id=555, admin_id=1)
    users = {g: [g * 1000 + n for n in range(1, members + 1)] for g in GUILDS}
    step = dt.timedelta(days=56) / (members * len(GUILDS) * 10)
    for _ in range(members * len(GUILDS) * 10):
        clock.advance(step)
        guild = rng.choice(GUILDS)
        user = rng.choice(users[guild])
        await progress.complete(guild, user, rng.choice(items), display_name=f"member {user}")
        if rng.random() < 0.1:
            done = sorted(await progress.done_ids(guild, user))
            await progress.undo(guild, user, rng.choice(done))
    clock.set(now)
    first = users[GUILDS[0]][0]
    for item in level_one:  # reaches level 1: announced once
        await progress.complete(GUILDS[0], first, item, evidence="https://example.org")
    await progress.complete(GUILDS[1], users[GUILDS[1]][1], items[-1], actor_id=1)
    await people.update_profile(GUILDS[0], users[GUILDS[0]][2], hidden=True)
    await people.update_profile(
        GUILDS[1], users[GUILDS[1]][3], started_on=dt.date(2026, 1, 5), timezone="Europe/Paris"
    )
    await MyDataService(db).delete(GUILDS[2], users[GUILDS[2]][4])
    users[GUILDS[2]].remove(users[GUILDS[2]][4])
    await checkins.set_away(GUILDS[1], users[GUILDS[1]][5], now.date() + dt.timedelta(days=9))
    cycle = await checkins.open_cycle(NEW_YORK)
    assert cycle is not None
    for user in users[NEW_YORK][:5]:
        answers = Answers(learned="dbt", built="a DAG", milestones="", feedback="", hours="2.5")
        await checkins.submit_answer(NEW_YORK, user, f"member {user}", answers)
    async with db.write.begin() as s:
        await s.execute(upsert(s, BotState).values(key="commands:global:1", value="abc"))
        await s.execute(upsert(s, JobRun).values(job_key="checkin-open:202", due_at=now))
    return Seeded(now, users)


async def all_rows(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order."""
    found = {}
    async with db.read() as s:
        for table in Base.metadata.sorted_tables:
            query = select(table).order_by(*table.primary_key.columns)
            found[table.name] = [tuple(row) for row in (await s.execute(query)).all()]
    return found


async def pages(db: Database, seeded: Seeded) -> dict[tuple[int, str], list[Page]]:
    """Every page of every leaderboard of every server."""
    board = LeaderboardService(db)
    found = {}
    for guild in GUILDS:
        for period in Period:
            first = await board.page(guild, period, 0, as_of=seeded.now)
            rest = [
                await board.page(guild, period, n, as_of=seeded.now) for n in range(1, first.pages)
            ]
            found[(guild, period.value)] = [first, *rest]
    return found


async def progress_of(
    db: Database, roadmap: Roadmap, seeded: Seeded
) -> dict[tuple[int, int], tuple[MemberProgress, set[str], int | None]]:
    """What /progress and /milestone list show for every member, with their rank."""
    progress = ProgressService(db, roadmap)
    board = LeaderboardService(db)
    async with db.read() as s:
        keys = (await s.execute(select(Member.guild_id, Member.user_id))).all()
    return {
        (g, u): (
            await progress.member_progress(g, u),
            await progress.done_ids(g, u),
            await board.rank(g, u),
        )
        for g, u in keys
    }
