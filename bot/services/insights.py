"""Where members stand and stall, for admins: counters kept as things change, and their reading.

The counters (members per level, per item, per last active day, per months taken to reach a
level, answers per check-in, self-ratings per metric) are updated by plain synchronous
functions called inside the unit of work that changes the data they count, like the
leaderboard's in `scores`. `/config insights` then reads a few hundred small rows, never
every member. `rebuild` recounts them from the data itself (for seeding, repairs and tests).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, case, delete, false, func, select, update
from sqlalchemy.orm import Session

from bot.clock import Clock, SystemClock
from bot.db import Database, Executes, upsert
from bot.db.models import (
    ActivityDay,
    AssessmentRating,
    CheckinAnswer,
    CheckinCycle,
    Completion,
    ItemCount,
    LevelAnnouncement,
    LevelCount,
    LevelTime,
    Member,
    MetricTotal,
)
from bot.db.tally import bump
from bot.defaults import INACTIVE_AFTER, INSIGHT_CYCLES
from bot.roadmap import Item, Metric, Roadmap
from bot.weekly import months_between

INACTIVE_PAGE = 10


def utc_day(moment: dt.datetime) -> dt.date:
    """The UTC day of a moment: activity is counted by it."""
    return moment.astimezone(dt.UTC).date()


# --- counters, kept inside each unit of work ------------------------------------------------


def member_added(s: Executes, guild_id: int, day: dt.date) -> None:
    """A new member row: count them as last active on the day they appeared."""
    bump(
        s,
        ActivityDay,
        [{"guild_id": guild_id, "day": day, "members": 1, "hidden": 0}],
        "members",
        "hidden",
    )


def moved_activity(
    s: Executes, guild_id: int, old: dt.date | None, new: dt.date, hidden: bool
) -> None:
    """A member's last active day moved from `old` to `new`."""
    if old == new:
        return
    column = "hidden" if hidden else "members"
    rows = [{"guild_id": guild_id, "day": new, "members": 0, "hidden": 0, column: 1}]
    if old is not None:
        rows.append({"guild_id": guild_id, "day": old, "members": 0, "hidden": 0, column: -1})
    bump(s, ActivityDay, rows, "members", "hidden")


def mark_active(s: Session, guild_id: int, user_id: int, now: dt.datetime) -> None:
    """The member (whose row exists) did something that counts as activity now."""
    row = s.execute(
        select(Member.last_active_on, Member.hidden)
        .where(Member.guild_id == guild_id, Member.user_id == user_id)
        .with_for_update()
    ).one()
    day = utc_day(now)
    if row.last_active_on != day:
        s.execute(
            update(Member)
            .where(Member.guild_id == guild_id, Member.user_id == user_id)
            .values(last_active_on=day)
        )
        moved_activity(s, guild_id, row.last_active_on, day, row.hidden)


def hidden_changed(s: Session, guild_id: int, user_id: int, hidden: bool) -> None:
    """A member hid themselves (or showed themselves again): they stay counted, unlisted."""
    day = s.scalar(
        select(Member.last_active_on).where(Member.guild_id == guild_id, Member.user_id == user_id)
    )
    if day is None:
        return
    delta = 1 if hidden else -1
    bump(
        s,
        ActivityDay,
        [{"guild_id": guild_id, "day": day, "members": -delta, "hidden": delta}],
        "members",
        "hidden",
    )


def levels_changed(s: Executes, guild_id: int, moves: Sequence[tuple[int, int]]) -> None:
    """Members went from level `old` to `new` (level 0 is not counted: it is the rest)."""
    deltas: Counter[int] = Counter()
    for old, new in moves:
        deltas[old] -= 1
        deltas[new] += 1
    rows = [
        {"guild_id": guild_id, "level": level, "members": delta}
        for level, delta in sorted(deltas.items())
        if level > 0 and delta
    ]
    bump(s, LevelCount, rows, "members")


def item_counted(s: Executes, guild_id: int, item_ids: Sequence[str], delta: int) -> None:
    """Members completed (delta 1) or undid (delta -1) these items."""
    rows = [{"guild_id": guild_id, "item_id": i, "members": delta} for i in item_ids]
    bump(s, ItemCount, rows, "members")


_m = Member.__table__.c
_START = select(_m.started_on, _m.created_at).where(
    _m.guild_id == bindparam("guild"), _m.user_id == bindparam("user")
)


def _start(s: Executes, guild_id: int, user_id: int) -> dt.date | None:
    row = s.execute(_START, {"guild": guild_id, "user": user_id}).one_or_none()
    return None if row is None else journey_start(row)


def journey_start(member: Any) -> dt.date:
    """When a member's journey started: their `/profile started` day, else the day the bot
    first saw them (from a row with `started_on` and `created_at`)."""
    return member.started_on or utc_day(member.created_at)


def level_reached(s: Executes, guild_id: int, level: int, at: dt.datetime, start: dt.date) -> None:
    """A member whose journey started on `start` reached a level for the first time ever:
    count how long it took them."""
    months = months_between(start, utc_day(at))
    bump(
        s,
        LevelTime,
        [{"guild_id": guild_id, "level": level, "months": months, "members": 1}],
        "members",
    )


def _level_times(s: Session, guild_id: int, user_id: int, start: dt.date, delta: int) -> None:
    reached = s.execute(
        select(LevelAnnouncement.level, LevelAnnouncement.reached_at).where(
            LevelAnnouncement.guild_id == guild_id, LevelAnnouncement.user_id == user_id
        )
    ).all()
    rows = [
        {
            "guild_id": guild_id,
            "level": level,
            "months": months_between(start, utc_day(at)),
            "members": delta,
        }
        for level, at in reached
    ]
    bump(s, LevelTime, rows, "members")


def start_changing(s: Session, guild_id: int, user_id: int, new_start: dt.date) -> None:
    """A member is about to change their journey start: recount their times to each level."""
    old_start = _start(s, guild_id, user_id)
    if old_start is None or old_start == new_start:
        return
    _level_times(s, guild_id, user_id, old_start, -1)
    _level_times(s, guild_id, user_id, new_start, +1)


def answer_counted(s: Session, cycle_id: int, delta: int) -> None:
    """A check-in cycle got a new answer (1) or lost one (-1)."""
    s.execute(
        update(CheckinCycle)
        .where(CheckinCycle.id == cycle_id)
        .values(answer_count=CheckinCycle.answer_count + delta)
    )


def ratings_changed(
    s: Session, guild_id: int, before: Mapping[str, int], after: Mapping[str, int]
) -> None:
    """A member's latest rating per metric went from `before` to `after`."""
    rows = []
    for metric_id in sorted(set(before) | set(after)):
        old, new = before.get(metric_id), after.get(metric_id)
        if old == new:
            continue
        rows.append(
            {
                "guild_id": guild_id,
                "metric_id": metric_id,
                "members": (new is not None) - (old is not None),
                "rating_sum": (new or 0) - (old or 0),
            }
        )
    bump(s, MetricTotal, rows, "members", "rating_sum")


def latest_ratings(s: Session, guild_id: int, user_id: int) -> dict[str, int]:
    """A member's latest rating of each metric they ever rated."""
    rows = s.execute(
        select(AssessmentRating.metric_id, AssessmentRating.rating)
        .where(AssessmentRating.guild_id == guild_id, AssessmentRating.user_id == user_id)
        .order_by(AssessmentRating.taken_on)
    )
    return {row.metric_id: row.rating for row in rows}  # later days overwrite


def forget(s: Session, guild_id: int, user_id: int) -> None:
    """Take a member out of every insight counter (before their data is deleted)."""
    member = s.execute(
        select(Member.level, Member.last_active_on, Member.hidden).where(
            Member.guild_id == guild_id, Member.user_id == user_id
        )
    ).one_or_none()
    if member is not None:
        levels_changed(s, guild_id, [(member.level, 0)])
        if member.last_active_on is not None:
            column = "hidden" if member.hidden else "members"
            row = {"guild_id": guild_id, "day": member.last_active_on, "members": 0, "hidden": 0}
            bump(s, ActivityDay, [{**row, column: -1}], "members", "hidden")
        start = _start(s, guild_id, user_id)
        if start is not None:
            _level_times(s, guild_id, user_id, start, -1)
    done = s.scalars(
        select(Completion.item_id).where(
            Completion.guild_id == guild_id, Completion.user_id == user_id
        )
    ).all()
    item_counted(s, guild_id, done, -1)
    cycles = s.scalars(
        select(CheckinAnswer.cycle_id).where(
            CheckinAnswer.guild_id == guild_id, CheckinAnswer.user_id == user_id
        )
    ).all()
    for cycle_id in cycles:
        answer_counted(s, cycle_id, -1)
    ratings_changed(s, guild_id, latest_ratings(s, guild_id, user_id), {})


# --- recounting from the data -----------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    """Every insight counter of one server, for comparing and rebuilding (zeros left out)."""

    levels: dict[int, int]
    items: dict[str, int]
    days: dict[dt.date, tuple[int, int]]
    level_times: dict[tuple[int, int], int]
    metrics: dict[str, tuple[int, int]]
    answers: dict[int, int]


def stored_counts(s: Session, guild_id: int) -> Counts:
    """The counters as kept."""
    return Counts(
        levels={
            level: n
            for level, n in s.execute(
                select(LevelCount.level, LevelCount.members).where(LevelCount.guild_id == guild_id)
            )
            if n
        },
        items={
            item_id: n
            for item_id, n in s.execute(
                select(ItemCount.item_id, ItemCount.members).where(ItemCount.guild_id == guild_id)
            )
            if n
        },
        days={
            day: (shown, hidden)
            for day, shown, hidden in s.execute(
                select(ActivityDay.day, ActivityDay.members, ActivityDay.hidden).where(
                    ActivityDay.guild_id == guild_id
                )
            )
            if shown or hidden
        },
        level_times={
            (level, months): n
            for level, months, n in s.execute(
                select(LevelTime.level, LevelTime.months, LevelTime.members).where(
                    LevelTime.guild_id == guild_id
                )
            )
            if n
        },
        metrics={
            metric_id: (n, total)
            for metric_id, n, total in s.execute(
                select(MetricTotal.metric_id, MetricTotal.members, MetricTotal.rating_sum).where(
                    MetricTotal.guild_id == guild_id
                )
            )
            if n or total
        },
        answers={
            cycle_id: n
            for cycle_id, n in s.execute(
                select(CheckinCycle.id, CheckinCycle.answer_count).where(
                    CheckinCycle.guild_id == guild_id
                )
            )
            if n
        },
    )


def recount(s: Session, guild_id: int) -> Counts:
    """The counters as the data says they should be (reads every member: not for requests)."""
    members = s.execute(
        select(
            Member.user_id,
            Member.level,
            Member.last_active_on,
            Member.hidden,
            Member.started_on,
            Member.created_at,
        ).where(Member.guild_id == guild_id)
    ).all()
    days: Counter[tuple[dt.date, bool]] = Counter()
    for m in members:
        if m.last_active_on is not None:
            days[(m.last_active_on, bool(m.hidden))] += 1
    starts = {m.user_id: m.started_on or utc_day(m.created_at) for m in members}
    level_times: Counter[tuple[int, int]] = Counter()
    for user_id, level, at in s.execute(
        select(
            LevelAnnouncement.user_id, LevelAnnouncement.level, LevelAnnouncement.reached_at
        ).where(LevelAnnouncement.guild_id == guild_id)
    ):
        if user_id in starts:
            level_times[(level, months_between(starts[user_id], utc_day(at)))] += 1
    latest: dict[tuple[int, str], int] = {}
    for user_id, metric_id, rating in s.execute(
        select(AssessmentRating.user_id, AssessmentRating.metric_id, AssessmentRating.rating)
        .where(AssessmentRating.guild_id == guild_id)
        .order_by(AssessmentRating.taken_on)
    ):
        latest[(user_id, metric_id)] = rating
    metrics: dict[str, tuple[int, int]] = {}
    for (_, metric_id), rating in latest.items():
        n, total = metrics.get(metric_id, (0, 0))
        metrics[metric_id] = (n + 1, total + rating)
    answers = s.execute(
        select(CheckinAnswer.cycle_id, func.count().label("n"))
        .join(CheckinCycle, CheckinCycle.id == CheckinAnswer.cycle_id)
        .where(CheckinCycle.guild_id == guild_id)
        .group_by(CheckinAnswer.cycle_id)
    )
    return Counts(
        levels=dict(Counter(m.level for m in members if m.level > 0)),
        items={
            row.item_id: row.n
            for row in s.execute(
                select(Completion.item_id, func.count().label("n"))
                .where(Completion.guild_id == guild_id)
                .group_by(Completion.item_id)
            )
        },
        days={day: (days[(day, False)], days[(day, True)]) for day in {day for day, _ in days}},
        level_times=dict(level_times),
        metrics=metrics,
        answers={row.cycle_id: row.n for row in answers},
    )


def rebuild(s: Session, guild_id: int) -> Counts:
    """Replace a server's counters by a recount of its data; return them."""
    counts = recount(s, guild_id)
    for model in (LevelCount, ItemCount, ActivityDay, LevelTime, MetricTotal):
        s.execute(delete(model).where(model.guild_id == guild_id))
    tables: list[tuple[Any, list[dict[str, Any]]]] = [
        (LevelCount, [{"level": k, "members": n} for k, n in counts.levels.items()]),
        (ItemCount, [{"item_id": k, "members": n} for k, n in counts.items.items()]),
        (
            ActivityDay,
            [{"day": k, "members": a, "hidden": b} for k, (a, b) in counts.days.items()],
        ),
        (
            LevelTime,
            [{"level": k[0], "months": k[1], "members": n} for k, n in counts.level_times.items()],
        ),
        (
            MetricTotal,
            [
                {"metric_id": k, "members": n, "rating_sum": total}
                for k, (n, total) in counts.metrics.items()
            ],
        ),
    ]
    for model, rows in tables:
        if rows:
            s.execute(upsert(s, model), [{"guild_id": guild_id, **row} for row in rows])
    s.execute(update(CheckinCycle).where(CheckinCycle.guild_id == guild_id).values(answer_count=0))
    for cycle_id, n in counts.answers.items():
        s.execute(update(CheckinCycle).where(CheckinCycle.id == cycle_id).values(answer_count=n))
    return counts


# --- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemShare:
    """How many members have done an item."""

    item: Item
    members: int


@dataclass(frozen=True)
class LevelTimes:
    """How long members took to reach a level, beside the roadmap's month range."""

    level: int
    members: int
    median_months: int | None
    roadmap_months: str


@dataclass(frozen=True)
class Participation:
    """How many members answered one check-in."""

    opens_at: dt.datetime
    answers: int


@dataclass(frozen=True)
class MetricAverage:
    """The server's average of members' latest self-ratings of a metric."""

    metric: Metric
    members: int
    average: float | None


@dataclass(frozen=True)
class Insights:
    """Everything `/config insights` shows. Hidden members are counted in every number."""

    members: int
    hidden: int
    per_level: tuple[int, ...]  # members at level 0, 1, ... LEVEL_COUNT
    checklists: tuple[tuple[int, tuple[ItemShare, ...]], ...]  # per level
    projects: tuple[ItemShare, ...]
    inactive: int
    inactive_shown: int
    inactive_since: dt.date  # last active on this day or before
    level_times: tuple[LevelTimes, ...]
    participation: tuple[Participation, ...]  # newest first
    metrics: tuple[MetricAverage, ...]


@dataclass(frozen=True)
class InactiveMember:
    """A shown member with no completion and no check-in answer for a while."""

    user_id: int
    display_name: str
    last_active_on: dt.date


@dataclass(frozen=True)
class InactivePage:
    """One page of the inactive members shown in lists (hidden ones never are)."""

    entries: tuple[InactiveMember, ...]
    page: int
    pages: int
    total: int


def median_of(histogram: Mapping[int, int]) -> int | None:
    """The (lower) median of values given as {value: how many}."""
    total = sum(histogram.values())
    if total == 0:
        return None
    middle = math.ceil(total / 2)
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= middle:
            return value
    return None  # pragma: no cover - the loop always reaches the middle


class InsightsService:
    """Reads the insight counters of a server."""

    def __init__(self, db: Database, roadmap: Roadmap, clock: Clock | None = None) -> None:
        self.db = db
        self.roadmap = roadmap
        self.clock: Clock = clock or SystemClock()

    def inactive_since(self) -> dt.date:
        """Members last active on this day or before count as inactive."""
        return utc_day(self.clock.now() - INACTIVE_AFTER)

    async def overview(self, guild_id: int) -> Insights:
        """Every figure of `/config insights`, from the counters."""
        return await self.db.run_read(self._overview, guild_id, self.inactive_since())

    def _overview(self, s: Session, guild_id: int, since: dt.date) -> Insights:
        # Members by last active day, summed in SQL: a server's days are many, four sums few.
        old = ActivityDay.day <= since
        shown, hidden, inactive_shown, inactive_hidden = (
            int(n or 0)
            for n in s.execute(
                select(
                    func.sum(ActivityDay.members),
                    func.sum(ActivityDay.hidden),
                    func.sum(case((old, ActivityDay.members), else_=0)),
                    func.sum(case((old, ActivityDay.hidden), else_=0)),
                ).where(ActivityDay.guild_id == guild_id)
            ).one()
        )
        total = shown + hidden
        inactive = inactive_shown + inactive_hidden
        levels = {
            row.level: row.members
            for row in s.execute(
                select(LevelCount.level, LevelCount.members).where(LevelCount.guild_id == guild_id)
            )
        }
        above = [levels.get(lvl.number, 0) for lvl in self.roadmap.levels]
        items = {
            row.item_id: row.members
            for row in s.execute(
                select(ItemCount.item_id, ItemCount.members).where(ItemCount.guild_id == guild_id)
            )
        }
        histograms: dict[int, dict[int, int]] = {}
        for level, months, n in s.execute(
            select(LevelTime.level, LevelTime.months, LevelTime.members).where(
                LevelTime.guild_id == guild_id
            )
        ):
            if n:
                histograms.setdefault(level, {})[months] = n
        cycles = s.execute(
            select(CheckinCycle.opens_at, CheckinCycle.answer_count)
            .where(CheckinCycle.guild_id == guild_id)
            .order_by(CheckinCycle.opens_at.desc())
            .limit(INSIGHT_CYCLES)
        ).all()
        totals = {
            metric_id: (n, rating_sum)
            for metric_id, n, rating_sum in s.execute(
                select(MetricTotal.metric_id, MetricTotal.members, MetricTotal.rating_sum).where(
                    MetricTotal.guild_id == guild_id
                )
            )
        }
        metrics = []
        for metric in self.roadmap.metrics:
            n, rating_sum = totals.get(metric.id, (0, 0))
            metrics.append(MetricAverage(metric, n, rating_sum / n if n else None))
        return Insights(
            members=total,
            hidden=hidden,
            per_level=(total - sum(above), *above),
            checklists=tuple(
                (lvl.number, tuple(ItemShare(i, items.get(i.id, 0)) for i in lvl.checklist))
                for lvl in self.roadmap.levels
            ),
            projects=tuple(ItemShare(p, items.get(p.id, 0)) for p in self.roadmap.projects),
            inactive=inactive,
            inactive_shown=inactive_shown,
            inactive_since=since,
            level_times=tuple(
                LevelTimes(
                    lvl.number,
                    sum(histograms.get(lvl.number, {}).values()),
                    median_of(histograms.get(lvl.number, {})),
                    lvl.months_label,
                )
                for lvl in self.roadmap.levels
            ),
            participation=tuple(Participation(c.opens_at, c.answer_count) for c in cycles),
            metrics=tuple(metrics),
        )

    async def inactive_page(
        self, guild_id: int, page: int = 0, per_page: int = INACTIVE_PAGE
    ) -> InactivePage:
        """Shown members inactive the longest first; hidden members are left out."""
        return await self.db.run_read(
            self._inactive_page, guild_id, page, per_page, self.inactive_since()
        )

    def _inactive_page(
        self, s: Session, guild_id: int, page: int, per_page: int, since: dt.date
    ) -> InactivePage:
        total = int(
            s.scalar(
                select(func.coalesce(func.sum(ActivityDay.members), 0)).where(
                    ActivityDay.guild_id == guild_id, ActivityDay.day <= since
                )
            )
            or 0
        )
        pages = max(1, -(-total // per_page))
        page = min(max(page, 0), pages - 1)
        rows = s.execute(
            select(Member.user_id, Member.display_name, Member.last_active_on)
            .where(
                Member.guild_id == guild_id,
                Member.hidden == false(),
                Member.last_active_on <= since,
            )
            .order_by(Member.last_active_on, Member.user_id)
            .limit(per_page)
            .offset(page * per_page)
        )
        entries = tuple(
            InactiveMember(user_id, name, day) for user_id, name, day in rows if day is not None
        )
        return InactivePage(entries, page, pages, total)
