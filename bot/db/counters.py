"""Recount the leaderboard counters from the completions and say where they disagree.

The bot keeps its rankings cheap with counters written beside every completion
(`bot/services/scores.py`): each member's `completed_count`, the members per count
(`score_buckets`) and per count and day of their latest completion (`score_days`), each
member's completions per week and month (`period_scores`) and the members per week and month
(`period_totals`). `db copy` copies them as they are, then checks them here on the target
against a recount from the `completions` table.

Plain synchronous code on a Connection; async callers use `AsyncConnection.run_sync`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, false, func, select

from bot.db.models import (
    Completion,
    GuildSettings,
    Member,
    PeriodScore,
    PeriodTotal,
    ScoreBucket,
    ScoreDay,
)
from bot.services.scores import PERIODS, period_bounds, period_start

Key = tuple[object, ...]


def check_counters(conn: Connection, now: dt.datetime | None = None) -> list[str]:
    """One line per kind of counter that disagrees with a recount; empty when all agree.

    Checked: every member's completed count; the members per count of every server, and per
    count and day; the members of every week and month; and this week's and this month's
    scores (the ones the leaderboard shows) against the completions made in them, in each
    server's timezone.
    """
    now = now or dt.datetime.now(dt.UTC)
    return [
        *_completed_counts(conn),
        *_compare(
            "score buckets (members per completed count)",
            _stored_buckets(conn),
            _recounted_buckets(conn),
        ),
        *_compare(
            "score days (members per completed count and day)",
            _stored_days(conn),
            _recounted_days(conn),
        ),
        *_compare(
            "period totals (members per week and month)",
            _stored_totals(conn),
            _recounted_totals(conn),
        ),
        *_current_periods(conn, now),
    ]


def _completed_counts(conn: Connection) -> list[str]:
    done = (
        select(Completion.guild_id, Completion.user_id, func.count().label("n"))
        .group_by(Completion.guild_id, Completion.user_id)
        .subquery()
    )
    joined = and_(done.c.guild_id == Member.guild_id, done.c.user_id == Member.user_id)
    wrong = conn.scalar(
        select(func.count())
        .select_from(Member)
        .outerjoin(done, joined)
        .where(Member.completed_count != func.coalesce(done.c.n, 0))
    )
    orphans = conn.scalar(
        select(func.count())
        .select_from(done)
        .outerjoin(Member, joined)
        .where(Member.user_id.is_(None))
    )
    problems = []
    if wrong:
        problems.append(f"completed counts: {wrong} members' counts differ from their completions")
    if orphans:
        problems.append(f"completions: {orphans} members have completions but no member row")
    return problems


def _stored_buckets(conn: Connection) -> dict[Key, int]:
    rows = conn.execute(
        select(ScoreBucket.guild_id, ScoreBucket.n, ScoreBucket.members).where(
            ScoreBucket.members != 0
        )
    )
    return {(g, n): m for g, n, m in rows}


def _recounted_buckets(conn: Connection) -> dict[Key, int]:
    rows = conn.execute(
        select(Member.guild_id, Member.completed_count, func.count())
        .where(Member.hidden == false(), Member.completed_count > 0)
        .group_by(Member.guild_id, Member.completed_count)
    )
    return {(g, n): m for g, n, m in rows}


def _stored_days(conn: Connection) -> dict[Key, int]:
    rows = conn.execute(
        select(ScoreDay.guild_id, ScoreDay.n, ScoreDay.day, ScoreDay.members).where(
            ScoreDay.members != 0
        )
    )
    return {(g, n, day): m for g, n, day, m in rows}


def _recounted_days(conn: Connection) -> dict[Key, int]:
    rows = conn.execute(
        select(Member.guild_id, Member.completed_count, Member.last_completed_at).where(
            Member.hidden == false(), Member.completed_count > 0
        )
    )
    return dict(Counter((g, n, last and last.astimezone(dt.UTC).date()) for g, n, last in rows))


def _stored_totals(conn: Connection) -> dict[Key, int]:
    rows = conn.execute(
        select(
            PeriodTotal.guild_id, PeriodTotal.period, PeriodTotal.starts_on, PeriodTotal.members
        ).where(PeriodTotal.members != 0)
    )
    return {(g, p, d): m for g, p, d, m in rows}


def _recounted_totals(conn: Connection) -> dict[Key, int]:
    rows = conn.execute(
        select(PeriodScore.guild_id, PeriodScore.period, PeriodScore.starts_on, func.count())
        .where(PeriodScore.hidden == false(), PeriodScore.n > 0)
        .group_by(PeriodScore.guild_id, PeriodScore.period, PeriodScore.starts_on)
    )
    return {(g, p, d): m for g, p, d, m in rows}


def _current_periods(conn: Connection, now: dt.datetime) -> list[str]:
    """This week's and month's scores of every server against its completions in them."""
    zones: dict[int, str | None] = dict(
        conn.execute(select(GuildSettings.guild_id, GuildSettings.timezone)).all()
    )
    guilds = set(conn.scalars(select(PeriodScore.guild_id).distinct()))
    guilds |= set(conn.scalars(select(Completion.guild_id).distinct()))
    by_zone: dict[str, list[int]] = defaultdict(list)
    for guild_id in guilds:
        by_zone[zones.get(guild_id) or "UTC"].append(guild_id)
    stored: dict[Key, int] = {}
    recounted: dict[Key, int] = {}
    for zone_name, members in by_zone.items():
        tz = ZoneInfo(zone_name)
        for period in PERIODS:
            starts_on = period_start(period, now, tz)
            start, end = period_bounds(period, starts_on, tz)
            for chunk in _chunks(sorted(members), 500):
                rows = conn.execute(
                    select(PeriodScore.guild_id, PeriodScore.user_id, PeriodScore.n).where(
                        PeriodScore.guild_id.in_(chunk),
                        PeriodScore.period == period,
                        PeriodScore.starts_on == starts_on,
                    )
                )
                stored.update({(g, period, u): n for g, u, n in rows})
                rows = conn.execute(
                    select(Completion.guild_id, Completion.user_id, func.count())
                    .where(
                        Completion.guild_id.in_(chunk),
                        Completion.completed_at >= start,
                        Completion.completed_at < end,
                    )
                    .group_by(Completion.guild_id, Completion.user_id)
                )
                recounted.update({(g, period, u): n for g, u, n in rows})
    wrong = Counter(
        key[1] for key in stored.keys() | recounted.keys() if stored.get(key) != recounted.get(key)
    )
    return [
        f"this {period}'s scores: {wrong[period]} members differ from their completions"
        for period in PERIODS
        if wrong[period]
    ]


def _compare(what: str, stored: dict[Key, int], recounted: dict[Key, int]) -> list[str]:
    wrong = sum(
        1 for key in stored.keys() | recounted.keys() if stored.get(key) != recounted.get(key)
    )
    return [f"{what}: {wrong} rows differ from a recount"] if wrong else []


def _chunks(values: list[int], size: int) -> list[list[int]]:
    return [values[i : i + size] for i in range(0, len(values), size)]
