"""Counters behind the leaderboards, kept in the same transaction as each completion.

Plain synchronous code: the hot write path runs it in one unit of work (`Database.run_write`);
async callers use `AsyncSession.run_sync`.

All time: `Member.completed_count` orders the board, `ScoreBucket` rows (members per count)
give its total and let a page start at its count, and `ScoreDay` rows (members per count and
UTC day of their latest completion) give a member's rank without counting every member tied
with them. This week and this month: one `PeriodScore` row per member and period, in the
server's timezone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.orm import Session

from bot.db import Executes, upsert
from bot.db.models import Completion, Member, PeriodScore, PeriodTotal, ScoreBucket, ScoreDay
from bot.db.tally import bump
from bot.services import prepared as sql
from bot.services.guilds import guild_basics

PERIODS = ("week", "month")


def period_start(period: str, at: dt.datetime, tz: ZoneInfo) -> dt.date:
    """The first local day of the week (Monday) or month that `at` falls in."""
    day = at.astimezone(tz).date()
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def period_bounds(period: str, starts_on: dt.date, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The period as a UTC [start, end) range."""
    if period == "week":
        ends_on = starts_on + dt.timedelta(days=7)
    else:
        ends_on = (starts_on + dt.timedelta(days=32)).replace(day=1)
    return tuple(  # type: ignore[return-value]
        dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.UTC)
        for day in (starts_on, ends_on)
    )


# A shown member's place on the all-time board: completed items and when the latest was.
Standing = tuple[int, dt.datetime | None]
UNRANKED: Standing = (0, None)


def move_bucket(s: Executes, guild_id: int, old: Standing, new: Standing) -> None:
    """A shown member went from `old` to `new`."""
    moves = [(n, last, delta) for (n, last), delta in ((old, -1), (new, 1)) if n > 0]
    buckets = [{"guild_id": guild_id, "n": n, "members": delta} for n, _, delta in moves]
    bump(s, ScoreBucket, buckets, "members")
    days = [
        {"guild_id": guild_id, "n": n, "day": last.astimezone(dt.UTC).date(), "members": delta}
        for n, last, delta in moves
        if last is not None
    ]
    bump(s, ScoreDay, days, "members")


def _count_members(
    s: Executes, guild_id: int, periods: Sequence[tuple[str, dt.date]], delta: int
) -> None:
    """Add `delta` shown members to the totals of these periods."""
    rows = [
        {"guild_id": guild_id, "period": period, "starts_on": starts_on, "members": delta}
        for period, starts_on in periods
    ]
    bump(s, PeriodTotal, rows, "members")


def add_completions(
    s: Executes, guild_id: int, user_id: int, at: dt.datetime, hidden: bool, tz: ZoneInfo, n: int
) -> None:
    """Count `n` completions made at `at` in their week and month."""
    counted = s.execute(
        sql.count_completion(s),
        {
            "guild": guild_id,
            "user": user_id,
            "at": at,
            "hidden": hidden,
            "week": period_start("week", at, tz),
            "month": period_start("month", at, tz),
            "n": n,
        },
    ).all()
    if not hidden:  # A member's first completions of a period add them to its total.
        _count_members(s, guild_id, [(p, d) for p, d, total in counted if total == n], +1)


def remove_completion(
    s: Executes, guild_id: int, user_id: int, completed_at: dt.datetime, hidden: bool, tz: ZoneInfo
) -> None:
    """Uncount a completion (already deleted) from its week and month."""
    for period in PERIODS:
        starts_on = period_start(period, completed_at, tz)
        start, end = period_bounds(period, starts_on, tz)
        key = {"guild": guild_id, "user": user_id, "of_period": period, "of_start": starts_on}
        gone = s.execute(sql.drop_last_of_period(s), key).rowcount
        if gone and not hidden:
            _count_members(s, guild_id, [(period, starts_on)], -1)
        s.execute(sql.uncount_completion(s), {**key, "start": start, "end": end})


def set_hidden(s: Session, guild_id: int, user_id: int, hidden: bool, standing: Standing) -> None:
    """Take a member off the boards or put them back."""
    _count_members(s, guild_id, _periods_of(s, guild_id, user_id), -1 if hidden else +1)
    s.execute(
        update(PeriodScore)
        .where(PeriodScore.guild_id == guild_id, PeriodScore.user_id == user_id)
        .values(hidden=hidden)
    )
    if hidden:
        move_bucket(s, guild_id, standing, UNRANKED)
    else:
        move_bucket(s, guild_id, UNRANKED, standing)


def forget(s: Session, guild_id: int, user_id: int) -> None:
    """Remove a member from every board (before their member row is deleted)."""
    member = s.get(Member, (guild_id, user_id))
    if member is not None and not member.hidden:
        move_bucket(s, guild_id, (member.completed_count, member.last_completed_at), UNRANKED)
        _count_members(s, guild_id, _periods_of(s, guild_id, user_id), -1)
    s.execute(
        delete(PeriodScore).where(PeriodScore.guild_id == guild_id, PeriodScore.user_id == user_id)
    )


def _periods_of(s: Session, guild_id: int, user_id: int) -> list[tuple[str, dt.date]]:
    rows = s.execute(
        select(PeriodScore.period, PeriodScore.starts_on).where(
            PeriodScore.guild_id == guild_id, PeriodScore.user_id == user_id
        )
    )
    return [(period, starts_on) for period, starts_on in rows]


def rebuild_periods(s: Session, guild_id: int, now: dt.datetime) -> None:
    """Recount this week and month from the completions (after a timezone change)."""
    tz, _ = guild_basics(s, guild_id)
    s.execute(delete(PeriodScore).where(PeriodScore.guild_id == guild_id))
    s.execute(delete(PeriodTotal).where(PeriodTotal.guild_id == guild_id))
    for period in PERIODS:
        starts_on = period_start(period, now, tz)
        start, end = period_bounds(period, starts_on, tz)
        rows = s.execute(
            select(
                Completion.user_id,
                func.count(),
                func.max(Completion.completed_at),
                Member.hidden,
            )
            .join(
                Member,
                and_(Member.guild_id == Completion.guild_id, Member.user_id == Completion.user_id),
            )
            .where(
                Completion.guild_id == guild_id,
                Completion.completed_at >= start,
                Completion.completed_at < end,
            )
            .group_by(Completion.user_id, Member.hidden)
        )
        values = [
            {
                "guild_id": guild_id,
                "period": period,
                "starts_on": starts_on,
                "user_id": user_id,
                "n": n,
                "last_at": last,
                "hidden": hidden,
            }
            for user_id, n, last, hidden in rows
        ]
        if values:
            s.execute(upsert(s, PeriodScore), values)
            shown = sum(1 for v in values if not v["hidden"])
            _count_members(s, guild_id, [(period, starts_on)], shown)
