"""Rankings by milestones completed: all time (from counters) or this week or month."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement, Subquery

from bot.db import Database
from bot.db.models import Completion, GuildSettings, Member, utcnow

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
    local = now.astimezone(tz)
    day = local.date()
    if period is Period.WEEK:
        day -= dt.timedelta(days=day.weekday())
    else:
        day = day.replace(day=1)
    return dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.UTC)


class LeaderboardService:
    """Builds leaderboard pages and ranks, never scanning all completions."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def page(
        self, guild_id: int, period: Period, page: int = 0, *, now: dt.datetime | None = None
    ) -> Page:
        """One page of the ranking; ties go to who got there first."""
        now = now or utcnow()
        async with self.db.read() as s:
            since = period_start(period, now, await _guild_tz(s, guild_id))
            if since is None:
                total = await s.scalar(select(func.count()).where(*_ranked(guild_id))) or 0
                pages = max(1, -(-total // PAGE_SIZE))
                page = min(max(page, 0), pages - 1)
                rows = (
                    await s.execute(
                        select(
                            Member.user_id,
                            Member.display_name,
                            Member.completed_count,
                            Member.level,
                        )
                        .where(*_ranked(guild_id))
                        .order_by(*_order())
                        .limit(PAGE_SIZE)
                        .offset(page * PAGE_SIZE)
                    )
                ).all()
            else:
                counts = _period_counts(guild_id, since)
                total = await s.scalar(select(func.count()).select_from(counts)) or 0
                pages = max(1, -(-total // PAGE_SIZE))
                page = min(max(page, 0), pages - 1)
                rows = (
                    await s.execute(
                        select(
                            Member.user_id,
                            Member.display_name,
                            counts.c.n.label("completed_count"),
                            Member.level,
                        )
                        .join(
                            counts,
                            and_(Member.guild_id == guild_id, Member.user_id == counts.c.user_id),
                        )
                        .order_by(counts.c.n.desc(), counts.c.last.asc(), Member.user_id)
                        .limit(PAGE_SIZE)
                        .offset(page * PAGE_SIZE)
                    )
                ).all()
        entries = tuple(
            Entry(page * PAGE_SIZE + i + 1, r.user_id, r.display_name, r.completed_count, r.level)
            for i, r in enumerate(rows)
        )
        return Page(period, since, entries, page, pages, total)

    async def rank(self, guild_id: int, user_id: int) -> int | None:
        """The member's all-time rank, or None when hidden or with nothing done."""
        async with self.db.read() as s:
            me = await s.get(Member, (guild_id, user_id))
            if me is None or me.hidden or me.completed_count == 0:
                return None
            assert me.last_completed_at is not None
            above = await s.scalar(
                select(func.count()).where(
                    *_ranked(guild_id),
                    or_(
                        Member.completed_count > me.completed_count,
                        and_(
                            Member.completed_count == me.completed_count,
                            or_(
                                Member.last_completed_at < me.last_completed_at,
                                and_(
                                    Member.last_completed_at == me.last_completed_at,
                                    Member.user_id < user_id,
                                ),
                            ),
                        ),
                    ),
                )
            )
        return (above or 0) + 1


def _ranked(guild_id: int) -> tuple[ColumnElement[bool], ...]:
    return (
        Member.guild_id == guild_id,
        Member.hidden == false(),
        Member.completed_count > 0,
    )


def _order() -> tuple[Any, ...]:
    return (Member.completed_count.desc(), Member.last_completed_at.asc(), Member.user_id)


def _period_counts(guild_id: int, since: dt.datetime) -> Subquery:
    return (
        select(
            Completion.user_id,
            func.count().label("n"),
            func.max(Completion.completed_at).label("last"),
        )
        .join(Member, and_(Member.guild_id == guild_id, Member.user_id == Completion.user_id))
        .where(
            Completion.guild_id == guild_id,
            Completion.completed_at >= since,
            Member.hidden == false(),
        )
        .group_by(Completion.user_id)
        .subquery()
    )


async def _guild_tz(s: AsyncSession, guild_id: int) -> ZoneInfo:
    name = await s.scalar(select(GuildSettings.timezone).where(GuildSettings.guild_id == guild_id))
    return ZoneInfo(name) if name else ZoneInfo("UTC")
