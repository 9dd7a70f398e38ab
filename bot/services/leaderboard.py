"""Rankings by items completed: all time, this week or this month, from counters only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, bindparam, false, func, select, tuple_

from bot.clock import Clock, SystemClock
from bot.db import Database, Executes
from bot.db.models import Member, PeriodScore, PeriodTotal, ScoreBucket, ScoreDay, TZDateTime
from bot.services.guilds import (
    SERVER_CARDS,
    SERVER_TIMEZONE,
    cards_from,
    guild_basics,
    read_cards_on,
    server_zone,
)
from bot.services.members import stored_looks
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
    # The (display name, avatar path) stored for the member asking, when asked for.
    viewer_looks: tuple[str, str | None] | None = None
    # Whether the answer carries a picture (the server's and the member's switch), when asked.
    cards: bool = False


def period_start(period: Period, now: dt.datetime, tz: ZoneInfo) -> dt.datetime | None:
    """The start of this week (Monday) or month in the server's timezone, as UTC."""
    if period is Period.ALL:
        return None
    return period_bounds(period.value, local_period_start(period.value, now, tz), tz)[0]


def _pages(total: int, page: int) -> tuple[int, int]:
    pages = max(1, -(-total // PAGE_SIZE))
    return pages, min(max(page, 0), pages - 1)


_m = Member.__table__.c
_ps = PeriodScore.__table__.c
_pt = PeriodTotal.__table__.c
_sb = ScoreBucket.__table__.c
_sd = ScoreDay.__table__.c

# Built once: a page or a rank runs a handful of these in one read (see Database.run_fast_read).
_SHOWN_BUCKETS = (_sb.guild_id == bindparam("guild"), _sb.members > 0)
_everyone = ScoreBucket.__table__.alias("everyone")
_RANKED_MEMBERS = (  # the members on the all-time board
    select(func.sum(_everyone.c.members))
    .where(_everyone.c.guild_id == bindparam("guild"), _everyone.c.members > 0)
    .scalar_subquery()
)
# Members per count from the top down, a few buckets at a time below `below`, with the ranked
# members in all: a deep page walks down until it reaches its offset, and starts there.
_BUCKETS_BELOW = (
    select(_sb.n, _sb.members, _RANKED_MEMBERS)
    .where(*_SHOWN_BUCKETS, _sb.n < bindparam("below"))
    .order_by(_sb.n.desc())
    .limit(bindparam("limit"))
)
_ABOVE_ALL = 2**31 - 1  # above any count (the largest INTEGER)
_FEW_BUCKETS = 4
_ALL_BUCKETS = 2**31 - 1
# The ranking from the top: the first pages read their rows this way, with the total riding
# along (a few dozen index entries to step over); a deeper page starts at its count's bucket.
_ALL_TIME = (
    select(_m.user_id, _m.display_name, _m.completed_count, _m.level, _m.avatar_path)
    .where(_m.guild_id == bindparam("guild"), _m.hidden == false(), _m.completed_count > 0)
    .order_by(_m.completed_count.desc(), _m.last_completed_at, _m.user_id)
    .limit(PAGE_SIZE)
    .offset(bindparam("offset"))
)
_SHALLOW = 10 * PAGE_SIZE  # rows above a page read from the top; deeper, the buckets say where
_TOP_ROWS = _ALL_TIME.add_columns(_RANKED_MEMBERS)
_ALL_TIME_ROWS = _ALL_TIME.where(_m.completed_count <= bindparam("top"))  # from a bucket down
_PERIOD_KEY = (
    _pt.guild_id == bindparam("guild"),
    _pt.period == bindparam("period"),
    _pt.starts_on == bindparam("starts_on"),
)
_PERIOD_TOTAL = select(_pt.members).where(*_PERIOD_KEY)
# The total rides along with the rows: one round trip for the whole page.
_PERIOD_ROWS = (
    select(
        _ps.user_id,
        _m.display_name,
        _ps.n,
        _m.level,
        _m.avatar_path,
        select(_pt.members).where(*_PERIOD_KEY).scalar_subquery(),
    )
    .join_from(
        PeriodScore.__table__,
        Member.__table__,
        (_m.guild_id == _ps.guild_id) & (_m.user_id == _ps.user_id),
    )
    .where(
        _ps.guild_id == bindparam("guild"),
        _ps.period == bindparam("period"),
        _ps.starts_on == bindparam("starts_on"),
        _ps.hidden == false(),
    )
    .order_by(_ps.n.desc(), _ps.last_at, _ps.user_id)
    .limit(PAGE_SIZE)
    .offset(bindparam("offset"))
)
# Members ranked above one: those with more done, those tied with them who got there on an
# earlier day, and those who got there earlier on the same day (ties: who got there first).
# The tied ones of earlier days are those tied (their count's bucket) but for the ones of
# this day and later (score_days): fewer rows to add up for a member active lately, and not
# more with every day the server has been around.
_RANK = select(
    select(func.coalesce(func.sum(_sb.members), 0))
    .where(_sb.guild_id == bindparam("guild"), _sb.n >= bindparam("count"))
    .scalar_subquery(),
    select(func.coalesce(func.sum(_sd.members), 0))
    .where(
        _sd.guild_id == bindparam("guild"),
        _sd.n == bindparam("count"),
        _sd.day >= bindparam("day", type_=Date()),
    )
    .scalar_subquery(),
    select(func.count())
    .select_from(Member.__table__)
    .where(
        _m.guild_id == bindparam("guild"),
        _m.hidden == false(),
        _m.completed_count == bindparam("count"),
        _m.last_completed_at >= bindparam("day_start", type_=TZDateTime()),
        tuple_(_m.last_completed_at, _m.user_id)
        < tuple_(bindparam("last_at", type_=TZDateTime()), bindparam("user")),
    )
    .scalar_subquery(),
)
# Who looks at a page: their stored name, avatar and pictures switch, with the server's
# switch and timezone (a page needs all of them).
_VIEWER = select(
    _m.display_name,
    _m.avatar_path,
    _m.cards,
    SERVER_CARDS.label("server_cards"),
    SERVER_TIMEZONE.label("server_timezone"),
).where(_m.guild_id == bindparam("guild"), _m.user_id == bindparam("user"))
_RANKED = select(_m.hidden, _m.completed_count, _m.last_completed_at).where(
    _m.guild_id == bindparam("guild"), _m.user_id == bindparam("user")
)


class LeaderboardService:
    """Builds leaderboard pages and ranks; every query walks an index in ranking order."""

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self.db = db
        self.clock: Clock = clock or SystemClock()

    async def page(
        self,
        guild_id: int,
        period: Period,
        page: int = 0,
        *,
        as_of: dt.datetime | None = None,
        viewer: int | None = None,
        cards_for: int | None = None,
    ) -> Page:
        """One page of the ranking; ties go to who got there first.

        `as_of` keeps the week or month of a board that is paged through (default: now).
        With `viewer`, the page also carries the name and avatar stored for that member;
        with `cards_for`, whether that member's answer has a picture (in the same read).
        """
        now = as_of or self.clock.now()
        return await self.db.run_fast_read(
            read_page, guild_id, period, page, now, viewer, cards_for
        )

    async def rank(self, guild_id: int, user_id: int) -> int | None:
        """The member's all-time rank, or None when hidden or with nothing done."""
        return await self.db.run_fast_read(read_rank, guild_id, user_id)


def read_page(
    s: Executes,
    guild_id: int,
    period: Period,
    page: int,
    now: dt.datetime,
    viewer: int | None,
    cards_for: int | None = None,
) -> Page:
    """`LeaderboardService.page` as plain synchronous code (one unit of work)."""
    row = None
    if viewer is not None and cards_for in (None, viewer):  # the usual: one who asks
        row = s.execute(_VIEWER, {"guild": guild_id, "user": viewer}).one_or_none()
    tz: ZoneInfo | None = None
    if row is not None:
        looks: tuple[str, str | None] | None = (row.display_name, row.avatar_path)
        cards = cards_for is not None and cards_from(row.server_cards, row.cards)
        tz = server_zone(row.server_timezone)
    else:
        looks = stored_looks(s, guild_id, viewer) if viewer is not None else None
        cards = cards_for is not None and read_cards_on(s, guild_id, cards_for)
    if period is Period.ALL:
        board = _all_time_page(s, guild_id, page)
    else:
        board = _period_page(s, guild_id, period, page, now, tz or guild_basics(s, guild_id)[0])
    return replace(board, viewer_looks=looks, cards=cards)


def _period_page(
    s: Executes, guild_id: int, period: Period, page: int, now: dt.datetime, tz: ZoneInfo
) -> Page:
    starts_on = local_period_start(period.value, now, tz)
    key = {"guild": guild_id, "period": period.value, "starts_on": starts_on}
    rows = s.execute(_PERIOD_ROWS, {**key, "offset": max(page, 0) * PAGE_SIZE}).all()
    if rows:
        total = rows[0][5]
        pages, page = _pages(total, page)
    else:  # Past the end (or nothing yet): count, then show the last page.
        total = s.execute(_PERIOD_TOTAL, key).scalar_one_or_none() or 0
        pages, page = _pages(total, page)
        if total:
            rows = s.execute(_PERIOD_ROWS, {**key, "offset": page * PAGE_SIZE}).all()
    since = period_bounds(period.value, starts_on, tz)[0]
    return Page(period, since, _entries(rows, page), page, pages, total, starts_on)


def _all_time_page(s: Executes, guild_id: int, page: int) -> Page:
    first = max(page, 0) * PAGE_SIZE
    if first < _SHALLOW:
        rows = s.execute(_TOP_ROWS, {"guild": guild_id, "offset": first}).all()
        if rows:  # (none: nobody ranked, or past the end, where the buckets find the last page)
            total = int(rows[0][5])
            pages, page = _pages(total, page)
            return Page(Period.ALL, None, _entries(rows, page), page, pages, total)
    # Members per count give the total, and let a deep page start at its count instead of
    # stepping over every member ranked above it.
    key: dict[str, Any] = {"guild": guild_id, "below": _ABOVE_ALL, "limit": _FEW_BUCKETS}
    buckets = s.execute(_BUCKETS_BELOW, key).all()
    if not buckets:  # Nobody ranked yet.
        return Page(Period.ALL, None, (), 0, 1, 0)
    total = int(buckets[0][2])
    pages, page = _pages(total, page)  # past the end: the last page
    offset, ahead, i = page * PAGE_SIZE, 0, 0
    while ahead + buckets[i][1] <= offset:
        ahead += buckets[i][1]
        i += 1
        if i == len(buckets):
            more = {**key, "below": buckets[-1][0], "limit": _ALL_BUCKETS}
            buckets = [*buckets, *s.execute(_BUCKETS_BELOW, more).all()]
            if i == len(buckets):  # the buckets sum to less than their total: none further
                i -= 1
                break
    rows = s.execute(
        _ALL_TIME_ROWS,
        {"guild": guild_id, "top": buckets[i][0], "offset": max(offset - ahead, 0)},
    ).all()
    return Page(Period.ALL, None, _entries(rows, page), page, pages, total)


def read_rank(s: Executes, guild_id: int, user_id: int) -> int | None:
    """`LeaderboardService.rank` as plain synchronous code."""
    me = s.execute(_RANKED, {"guild": guild_id, "user": user_id}).one_or_none()
    if me is None:
        return None
    return rank_of(s, guild_id, user_id, me.hidden, me.completed_count, me.last_completed_at)


def rank_of(
    s: Executes,
    guild_id: int,
    user_id: int,
    hidden: bool,
    completed: int,
    last_completed_at: dt.datetime | None,
) -> int | None:
    """The rank of a member whose counters are known (None when hidden or with nothing)."""
    if hidden or completed == 0 or last_completed_at is None:
        return None
    last = last_completed_at.astimezone(dt.UTC)
    tied_or_above, tied_this_day_or_later, earlier_today = s.execute(
        _RANK,
        {
            "guild": guild_id,
            "user": user_id,
            "count": completed,
            "last_at": last,
            "day": last.date(),
            "day_start": last.replace(hour=0, minute=0, second=0, microsecond=0),
        },
    ).one()
    return int(tied_or_above) - int(tied_this_day_or_later) + int(earlier_today) + 1


def _entries(rows: Sequence[Any], page: int) -> tuple[Entry, ...]:
    return tuple(
        Entry(page * PAGE_SIZE + i + 1, row[0], row[1], row[2], row[3], row[4])
        for i, row in enumerate(rows)
    )
