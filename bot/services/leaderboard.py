"""Rankings by items completed: all time, this week or this month, from counters only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import false, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import Database
from bot.db.models import Member, PeriodScore, ScoreBucket, utcnow
from bot.services.scores import guild_tz, period_bounds
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


@dataclass(frozen=True)
class Page:
    """One page of a leaderboard."""

    period: Period
    since: dt.datetime | None
    entries: tuple[Entry, ...]
    page: int
    pages: int
    total: int


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

    def __init__(self, db: Database) -> None:
        self.db = db

    async def page(
        self, guild_id: int, period: Period, page: int = 0, *, now: dt.datetime | None = None
    ) -> Page:
        """One page of the ranking; ties go to who got there first."""
        now = now or utcnow()
        async with self.db.read() as s:
            tz = await guild_tz(s, guild_id)
            since = period_start(period, now, tz)
            if period is Period.ALL:
                total = await _all_time_total(s, guild_id)
                pages, page = _pages(total, page)
                query = (
                    select(
                        Member.user_id, Member.display_name, Member.completed_count, Member.level
                    )
                    .where(
                        Member.guild_id == guild_id,
                        Member.hidden == false(),
                        Member.completed_count > 0,
                    )
                    .order_by(
                        Member.completed_count.desc(), Member.last_completed_at, Member.user_id
                    )
                )
            else:
                key = (
                    PeriodScore.guild_id == guild_id,
                    PeriodScore.period == period.value,
                    PeriodScore.starts_on == local_period_start(period.value, now, tz),
                    PeriodScore.hidden == false(),
                )
                total = await s.scalar(select(func.count()).where(*key)) or 0
                pages, page = _pages(total, page)
                query = (
                    select(PeriodScore.user_id, Member.display_name, PeriodScore.n, Member.level)
                    .join(
                        Member,
                        (Member.guild_id == PeriodScore.guild_id)
                        & (Member.user_id == PeriodScore.user_id),
                    )
                    .where(*key)
                    .order_by(PeriodScore.n.desc(), PeriodScore.last_at, PeriodScore.user_id)
                )
            rows = (await s.execute(query.limit(PAGE_SIZE).offset(page * PAGE_SIZE))).all()
        entries = tuple(
            Entry(page * PAGE_SIZE + i + 1, user_id, name, completed, level)
            for i, (user_id, name, completed, level) in enumerate(rows)
        )
        return Page(period, since, entries, page, pages, total)

    async def rank(self, guild_id: int, user_id: int) -> int | None:
        """The member's all-time rank, or None when hidden or with nothing done."""
        async with self.db.read() as s:
            me = await s.get(Member, (guild_id, user_id))
            if me is None or me.hidden or me.completed_count == 0:
                return None
            ahead = await s.scalar(
                select(func.coalesce(func.sum(ScoreBucket.members), 0)).where(
                    ScoreBucket.guild_id == guild_id, ScoreBucket.n > me.completed_count
                )
            )
            tied_first = await s.scalar(
                select(func.count()).where(
                    Member.guild_id == guild_id,
                    Member.hidden == false(),
                    Member.completed_count == me.completed_count,
                    tuple_(Member.last_completed_at, Member.user_id)
                    < tuple_(me.last_completed_at, user_id),
                )
            )
        return int(ahead or 0) + int(tied_first or 0) + 1


async def _all_time_total(s: AsyncSession, guild_id: int) -> int:
    total = await s.scalar(
        select(func.coalesce(func.sum(ScoreBucket.members), 0)).where(
            ScoreBucket.guild_id == guild_id
        )
    )
    return int(total or 0)
