"""Rankings by items completed: all time, this week or this month, from counters only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import false, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock, SystemClock
from bot.db import Database
from bot.db.models import Member, PeriodScore, PeriodTotal, ScoreBucket
from bot.services.guilds import guild_basics
from bot.services.scores import period_bounds
from bot.services.scores import period_start as local_period_start

PAGE_SIZE = 10


class Period(StrEnum):
    """The leaderboard's time windows."""

    ALL = "all"
    MONTH = "month"
    WEEK = "week"


@dataclass(frozen=True)
class Entry:
    """One row of a leaderboard."""

    rank: int
    user_id: int
    display_name: str
    completed: int
    level: int
    avatar_path: str | None = None  # the avatar's CDN path last seen, None: the default


@dataclass(frozen=True)
class Page:
    """One page of a leaderboard."""

    period: Period
    since: dt.datetime | None
    entries: tuple[Entry, ...]
    page: int
    pages: int
    total: int
    starts_on: dt.date | None = None  # the week's or month's first day, in the server's zone


def period_start(period: Period, now: dt.datetime, tz: ZoneInfo) -> dt.datetime | None:
    """The start of this week (Monday) or month in the server's timezone, as UTC."""
    if period is Period.ALL:
        return None
    return period_bounds(period.value, local_period_start(period.value, now, tz), tz)[0]


def _pages(total: int, page: int) -> tuple[int, int]:
    pages = max(1, -(-total // PAGE_SIZE))
    return pages, min(max(page, 0), pages - 1)


class LeaderboardService:
    """Builds leaderboard pages and ranks; every query walks an index in ranking order."""

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self.db = db
        self.clock: Clock = clock or SystemClock()

    async def page(
        self, guild_id: int, period: Period, page: int = 0, *, as_of: dt.datetime | None = None
    ) -> Page:
        """One page of the ranking; ties go to who got there first.

        `as_of` keeps the week or month of a board that is paged through (default: now).
        """
        now = as_of or self.clock.now()
        async with self.db.read() as s:
            if period is Period.ALL:
                return await self._all_time_page(s, guild_id, page)
            tz, _ = await s.run_sync(guild_basics, guild_id)
            starts_on = local_period_start(period.value, now, tz)
            key = (
                PeriodScore.guild_id == guild_id,
                PeriodScore.period == period.value,
                PeriodScore.starts_on == starts_on,
                PeriodScore.hidden == false(),
            )
            # The total rides along with the rows: one round trip for the whole page.
            count = select(PeriodTotal.members).where(
                PeriodTotal.guild_id == guild_id,
                PeriodTotal.period == period.value,
                PeriodTotal.starts_on == starts_on,
            )
            query = (
                select(
                    PeriodScore.user_id,
                    Member.display_name,
                    PeriodScore.n,
                    Member.level,
                    Member.avatar_path,
                    count.scalar_subquery(),
                )
                .join(
                    Member,
                    (Member.guild_id == PeriodScore.guild_id)
                    & (Member.user_id == PeriodScore.user_id),
                )
                .where(*key)
                .order_by(PeriodScore.n.desc(), PeriodScore.last_at, PeriodScore.user_id)
                .limit(PAGE_SIZE)
            )
            rows = (await s.execute(query.offset(max(page, 0) * PAGE_SIZE))).all()
            if rows:
                total = rows[0][5]
                pages, page = _pages(total, page)
            else:  # Past the end (or nothing yet): count, then show the last page.
                total = await s.scalar(count) or 0
                pages, page = _pages(total, page)
                if total:
                    rows = (await s.execute(query.offset(page * PAGE_SIZE))).all()
        since = period_bounds(period.value, starts_on, tz)[0]
        return Page(period, since, _entries(rows, page), page, pages, total, starts_on)

    async def _all_time_page(self, s: AsyncSession, guild_id: int, page: int) -> Page:
        # Members per completed count give the total, and let a deep page start at its count
        # instead of stepping over every member ranked above it.
        found = await s.execute(
            select(ScoreBucket.n, ScoreBucket.members)
            .where(ScoreBucket.guild_id == guild_id, ScoreBucket.members > 0)
            .order_by(ScoreBucket.n.desc())
        )
        buckets = [(n, members) for n, members in found]
        total = sum(members for _, members in buckets)
        pages, page = _pages(total, page)
        top, ahead = _bucket_at(buckets, page * PAGE_SIZE)
        rows = (
            await s.execute(
                select(
                    Member.user_id,
                    Member.display_name,
                    Member.completed_count,
                    Member.level,
                    Member.avatar_path,
                )
                .where(
                    Member.guild_id == guild_id,
                    Member.hidden == false(),
                    Member.completed_count > 0,
                    Member.completed_count <= top,
                )
                .order_by(Member.completed_count.desc(), Member.last_completed_at, Member.user_id)
                .limit(PAGE_SIZE)
                .offset(page * PAGE_SIZE - ahead)
            )
        ).all()
        return Page(Period.ALL, None, _entries(rows, page), page, pages, total)

    async def rank(self, guild_id: int, user_id: int) -> int | None:
        """The member's all-time rank, or None when hidden or with nothing done."""
        async with self.db.read() as s:
            me = await s.get(Member, (guild_id, user_id))
            if me is None or me.hidden or me.completed_count == 0:
                return None
            ahead = select(func.coalesce(func.sum(ScoreBucket.members), 0)).where(
                ScoreBucket.guild_id == guild_id, ScoreBucket.n > me.completed_count
            )
            tied_first = select(func.count()).where(
                Member.guild_id == guild_id,
                Member.hidden == false(),
                Member.completed_count == me.completed_count,
                tuple_(Member.last_completed_at, Member.user_id)
                < tuple_(me.last_completed_at, user_id),
            )
            above, tied = (
                await s.execute(select(ahead.scalar_subquery(), tied_first.scalar_subquery()))
            ).one()
        return int(above) + int(tied) + 1


def _entries(rows: Sequence[Any], page: int) -> tuple[Entry, ...]:
    return tuple(
        Entry(page * PAGE_SIZE + i + 1, row[0], row[1], row[2], row[3], row[4])
        for i, row in enumerate(rows)
    )


def _bucket_at(buckets: Sequence[tuple[int, int]], offset: int) -> tuple[int, int]:
    """The completed count of the member at `offset` in the ranking, and how many rank above
    that count."""
    ahead = 0
    for n, members in buckets:
        if ahead + members > offset:
            return n, ahead
        ahead += members
    return 0, 0
