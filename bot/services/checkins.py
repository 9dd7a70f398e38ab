"""Weekly check-ins: the schedule, cycles, answers, streaks, nudges and the summary."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Container, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock, SystemClock
from bot.db import Database, Executes, upsert
from bot.db.models import (
    AwayPeriod,
    CheckinAnswer,
    CheckinCycle,
    Completion,
    GuildSettings,
    LevelAnnouncement,
    Member,
)
from bot.defaults import (
    CHART_CYCLES,
    CHART_WEEKS,
    CHECKIN_MAX_OPEN_HOURS,
    CHECKIN_OPEN_HOURS,
    HOURS_IN_WEEK,
    NUDGE_LEAD,
)
from bot.errors import UserError
from bot.services import insights, scores
from bot.services.guilds import save_settings
from bot.services.progress import claim_member, touch_member
from bot.text import clean_text
from bot.weekly import WeeklyTime, format_when, local_today, safe_timezone

MAX_TEXT = 1000

OPEN_JOB = "checkin-open"
CLOSE_JOB = "checkin-close"
NUDGE_JOB = "checkin-nudge"
"""The names of the check-in's scheduled jobs (their kinds register with the scheduler)."""
NUDGE_LOOKBACK = 4
TOP_STREAKS = 10
MAX_LEVEL_UPS = 25
MAX_AWAY_DAYS = 365


NO_CHECKIN = (
    "This server has no weekly check-in yet: an admin can set one up with `/config checkins`."
)


@dataclass(frozen=True)
class CheckinSettings:
    """A server's check-in schedule; `timezone` is the server's."""

    guild_id: int
    enabled: bool
    channel_id: int | None
    schedule: WeeklyTime | None
    timezone: str
    open_hours: int

    @property
    def active(self) -> WeeklyTime | None:
        """The weekly schedule when check-ins are on and fully set up, else None."""
        if not self.enabled or self.channel_id is None:
            return None
        return self.schedule

    def next_open(self, now: dt.datetime) -> dt.datetime | None:
        """When the next check-in opens, if one is scheduled."""
        schedule = self.active
        return None if schedule is None else schedule.next_after(now)


@dataclass(frozen=True)
class CycleInfo:
    """One check-in cycle."""

    id: int
    guild_id: int
    channel_id: int
    message_id: int | None
    opens_at: dt.datetime
    closes_at: dt.datetime
    closed_at: dt.datetime | None
    nudged_at: dt.datetime | None = None

    @property
    def nudge_at(self) -> dt.datetime:
        """When its nudge is due: 12 h before the close, at most half the window."""
        return self.closes_at - min(NUDGE_LEAD, (self.closes_at - self.opens_at) / 2)


@dataclass(frozen=True)
class Answers:
    """What a member typed in the check-in form; `hours` is the raw text or a number."""

    learned: str = ""
    built: str = ""
    milestones: str = ""
    feedback: str = ""
    hours: str | float = ""


@dataclass(frozen=True)
class AnswerResult:
    """The outcome of submitting an answer."""

    cycle: CycleInfo
    replaced: bool
    hours: float


@dataclass(frozen=True)
class CheckinStatus:
    """What `/checkin status` shows."""

    enabled: bool
    cycle: CycleInfo | None
    answered: int
    closes_at: dt.datetime | None
    next_opens_at: dt.datetime | None
    timezone: str


@dataclass(frozen=True)
class HistoryEntry:
    """One past answer of a member, with its cycle's dates."""

    cycle_id: int
    opens_at: dt.datetime
    closes_at: dt.datetime
    learned: str
    built: str
    milestones: str
    feedback: str
    hours: float
    submitted_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class StreakEntry:
    """A member and their check-in streak."""

    user_id: int
    display_name: str
    streak: int


@dataclass(frozen=True)
class LevelUp:
    """A member who reached a level during a cycle."""

    user_id: int
    display_name: str
    level: int


@dataclass(frozen=True)
class CycleSummary:
    """What is posted when a cycle closes."""

    cycle: CycleInfo
    answered: int
    top_streaks: tuple[StreakEntry, ...]
    total_hours: float
    average_hours: float
    milestones_completed: int
    level_ups: tuple[LevelUp, ...]
    level_up_count: int


@dataclass(frozen=True)
class CycleCount:
    """How many members answered one cycle; `opens_on` is its day in the server's timezone."""

    cycle_id: int
    opens_on: dt.date
    answered: int


@dataclass(frozen=True)
class WeekHours:
    """A member's hours spent learning in one answered cycle (its day in the server's zone)."""

    opens_on: dt.date
    hours: float


@dataclass(frozen=True)
class _CycleRow:
    id: int
    opens_at: dt.datetime
    closes_at: dt.datetime
    closed_at: dt.datetime | None


def parse_hours(value: str | float | None) -> float:
    """Parse hours spent learning: a number from 0 to a week's hours; "2,5" is accepted."""
    if isinstance(value, str):
        value = clean_text(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0.0
    try:
        hours = float(value.strip().replace(",", ".")) if isinstance(value, str) else float(value)
    except ValueError:
        hours = math.nan
    if not math.isfinite(hours) or not 0 <= hours <= HOURS_IN_WEEK:
        shown = str(value)[:20]
        raise UserError(
            f"Hours must be a number from 0 to {HOURS_IN_WEEK}, for example 3 or 2.5 "
            f"(you wrote `{shown}`)."
        )
    return round(hours, 2)


def no_checkin_message(next_open: dt.datetime | None, timezone: str | None) -> str:
    """What to tell a member who wants to answer while no check-in is open."""
    if next_open is None:
        return NO_CHECKIN
    return f"No check-in is open right now. The next one opens {format_when(next_open, timezone)}."


def _clip(text: str | None) -> str:
    return clean_text(text or "").strip()[:MAX_TEXT]


def _cycle_info(row: CheckinCycle) -> CycleInfo:
    return CycleInfo(
        id=row.id,
        guild_id=row.guild_id,
        channel_id=row.channel_id,
        message_id=row.message_id,
        opens_at=row.opens_at,
        closes_at=row.closes_at,
        closed_at=row.closed_at,
        nudged_at=row.nudged_at,
    )


def _settings_info(row: GuildSettings) -> CheckinSettings:
    return CheckinSettings(
        guild_id=row.guild_id,
        enabled=bool(row.checkins_enabled),
        channel_id=row.checkin_channel_id,
        schedule=WeeklyTime.stored(row.checkin_weekday, row.checkin_time, row.timezone),
        timezone=safe_timezone(row.timezone),
        open_hours=row.checkin_open_hours or CHECKIN_OPEN_HOURS,
    )


def _next_open(settings: CheckinSettings | None, now: dt.datetime) -> dt.datetime | None:
    return None if settings is None else settings.next_open(now)


AwayDays = Sequence[tuple[dt.date, dt.date]]
"""A member's away periods as (first day, last day)."""


def streak_step(
    streak: int, cycle: _CycleRow, answered: bool, away: AwayDays, now: dt.datetime
) -> tuple[int, bool]:
    """Walk one cycle back; return (streak, go on).

    An answered cycle counts. An unanswered cycle does not break the streak while it is
    still open, or when it overlaps one of the member's away periods.
    """
    if answered:
        return streak + 1, True
    if cycle.closed_at is None and cycle.closes_at > now:
        return streak, True
    first, last = cycle.opens_at.date(), cycle.closes_at.date()
    if any(start <= last and first <= end for start, end in away):
        return streak, True
    return streak, False


def count_streak(
    cycles: Sequence[_CycleRow], answered: Container[int], away: AwayDays, now: dt.datetime
) -> int:
    """Count consecutive answered cycles, newest first (see `streak_step`)."""
    streak = 0
    for cycle in cycles:
        streak, go_on = streak_step(streak, cycle, cycle.id in answered, away, now)
        if not go_on:
            break
    return streak


class CheckinService:
    """Check-in rules; every method takes plain ids and values."""

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self.db = db
        self.clock: Clock = clock or SystemClock()

    # -- settings --

    async def configure(
        self,
        guild_id: int,
        *,
        channel_id: int,
        schedule: WeeklyTime,
        open_hours: int = CHECKIN_OPEN_HOURS,
    ) -> CheckinSettings:
        """Set the weekly check-in schedule; its timezone becomes the server's timezone."""
        if not 1 <= open_hours <= CHECKIN_MAX_OPEN_HOURS:
            raise UserError(
                f"open_hours must be from 1 to {CHECKIN_MAX_OPEN_HOURS} (a week); "
                f"the default is {CHECKIN_OPEN_HOURS}."
            )
        zone = schedule.timezone
        values = {
            "checkins_enabled": True,
            "checkin_channel_id": channel_id,
            "checkin_weekday": schedule.weekday,
            "checkin_time": schedule.hhmm,
            "timezone": zone,
            "checkin_open_hours": open_hours,
        }
        now = self.clock.now()
        async with self.db.write.begin() as s:
            old_zone = await s.scalar(
                select(GuildSettings.timezone).where(GuildSettings.guild_id == guild_id)
            )
            await save_settings(s, guild_id, values, now)
            if zone != old_zone:
                # Weeks and months start at local midnight: recount them in the new zone.
                await s.run_sync(scores.rebuild_periods, guild_id, now)
        return CheckinSettings(guild_id, True, channel_id, schedule, zone, open_hours)

    async def disable(self, guild_id: int) -> None:
        """Stop scheduled check-ins (an open cycle still closes on time)."""
        async with self.db.write.begin() as s:
            await save_settings(s, guild_id, {"checkins_enabled": False}, self.clock.now())

    async def scheduled(self, guild_id: int | None = None) -> list[CheckinSettings]:
        """The servers (or this one) whose weekly check-ins are on."""
        query = select(GuildSettings).where(GuildSettings.checkins_enabled.is_(True))
        if guild_id is not None:
            query = query.where(GuildSettings.guild_id == guild_id)
        async with self.db.read() as s:
            rows = await s.scalars(query)
            return [info for row in rows if (info := _settings_info(row)).active is not None]

    async def settings(self, guild_id: int) -> CheckinSettings | None:
        """Return the server's check-in settings, if it has a settings row."""
        async with self.db.read() as s:
            row = await s.get(GuildSettings, guild_id)
            return None if row is None else _settings_info(row)

    # -- cycles --

    async def open_cycle(
        self, guild_id: int, opens_at: dt.datetime | None = None
    ) -> CycleInfo | None:
        """Open a cycle at `opens_at` (scheduled) or now (an admin's check-in now).

        Scheduled: returns None when the cycle already exists (another process opened it).
        Now: raises UserError when a cycle is open, saying when it closes.
        """
        now = self.clock.now()
        async with self.db.write.begin() as s:
            row = await s.get(GuildSettings, guild_id)
            settings = None if row is None else _settings_info(row)
            if settings is None or settings.channel_id is None:
                raise UserError(
                    "Check-ins are not set up in this server: "
                    "an admin can set them up with /config checkins."
                )
            if opens_at is None:
                current = await self._open_row(s, guild_id, now)
                if current is not None:
                    raise UserError(
                        "A check-in is already open; it closes "
                        f"{format_when(current.closes_at, settings.timezone)}."
                    )
                opens_at = now
            closes_at = opens_at + dt.timedelta(hours=settings.open_hours)
            result = await s.execute(
                upsert(s, CheckinCycle)
                .values(
                    guild_id=guild_id,
                    channel_id=settings.channel_id,
                    opens_at=opens_at,
                    closes_at=closes_at,
                )
                .on_conflict_do_nothing()
            )
            if _rowcount(result) == 0:
                return None
            created = await s.scalar(
                select(CheckinCycle).where(
                    CheckinCycle.guild_id == guild_id, CheckinCycle.opens_at == opens_at
                )
            )
            assert created is not None
            return _cycle_info(created)

    async def set_prompt_message(self, cycle_id: int, message_id: int) -> None:
        """Remember the message that carries a cycle's prompt."""
        async with self.db.write.begin() as s:
            await s.execute(
                update(CheckinCycle)
                .where(CheckinCycle.id == cycle_id)
                .values(message_id=message_id)
            )

    async def cycle(self, cycle_id: int) -> CycleInfo | None:
        """Return one cycle."""
        async with self.db.read() as s:
            row = await s.get(CheckinCycle, cycle_id)
            return None if row is None else _cycle_info(row)

    async def unclosed_cycles(self, guild_id: int | None = None) -> list[CycleInfo]:
        """Return the cycles not closed yet (of every server, or one), oldest first."""
        query = select(CheckinCycle).where(CheckinCycle.closed_at.is_(None))
        if guild_id is not None:
            query = query.where(CheckinCycle.guild_id == guild_id)
        async with self.db.read() as s:
            rows = await s.scalars(query.order_by(CheckinCycle.opens_at, CheckinCycle.id))
            return [_cycle_info(row) for row in rows]

    async def open_cycle_for(self, guild_id: int) -> CycleInfo | None:
        """Return the cycle accepting answers now, or None."""
        async with self.db.read() as s:
            row = await self._open_row(s, guild_id, self.clock.now())
            return None if row is None else _cycle_info(row)

    @staticmethod
    async def _open_row(
        s: AsyncSession, guild_id: int, now: dt.datetime, *, lock: bool = False
    ) -> CheckinCycle | None:
        query = (
            select(CheckinCycle)
            .where(
                CheckinCycle.guild_id == guild_id,
                CheckinCycle.closed_at.is_(None),
                CheckinCycle.opens_at <= now,
                CheckinCycle.closes_at > now,
            )
            .order_by(CheckinCycle.opens_at.desc())
            .limit(1)
        )
        # FOR UPDATE on PostgreSQL: two answers of one member at once take turns, so the
        # second sees the first (SQLite's BEGIN IMMEDIATE already serializes writers).
        return await s.scalar(query.with_for_update() if lock else query)

    # -- answers --

    async def submit_answer(
        self,
        guild_id: int,
        user_id: int,
        display_name: str | None,
        answers: Answers,
    ) -> AnswerResult:
        """Store a member's answer to the open cycle; a resubmission replaces it."""
        hours = parse_hours(answers.hours)
        now = self.clock.now()
        async with self.db.write.begin() as s:
            # The member's row first, then the cycle's, as every change of a member does.
            await s.run_sync(claim_member, guild_id, user_id, display_name, now)
            row = await self._open_row(s, guild_id, now, lock=True)
            if row is None:
                raise UserError(await self._no_cycle_message(s, guild_id, now))
            cycle = _cycle_info(row)
            previous = await s.scalar(
                select(CheckinAnswer.submitted_at).where(
                    CheckinAnswer.cycle_id == cycle.id, CheckinAnswer.user_id == user_id
                )
            )
            fields = {
                "learned": _clip(answers.learned),
                "built": _clip(answers.built),
                "milestones": _clip(answers.milestones),
                "feedback": _clip(answers.feedback),
                "hours": hours,
                "updated_at": now,
            }
            inserted = await s.execute(
                upsert(s, CheckinAnswer)
                .values(
                    cycle_id=cycle.id,
                    user_id=user_id,
                    guild_id=guild_id,
                    submitted_at=now,
                    **fields,
                )
                .on_conflict_do_nothing()
            )
            if _rowcount(inserted) == 1:
                await s.run_sync(insights.answer_counted, cycle.id, 1)
            else:
                await s.execute(
                    update(CheckinAnswer)
                    .where(CheckinAnswer.cycle_id == cycle.id, CheckinAnswer.user_id == user_id)
                    .values(**fields)
                )
            await s.run_sync(insights.mark_active, guild_id, user_id, now)
        return AnswerResult(cycle=cycle, replaced=previous is not None, hours=hours)

    async def current_answer(self, guild_id: int, user_id: int) -> HistoryEntry | None:
        """Return the member's answer to the open cycle (to pre-fill the form), if any."""
        async with self.db.read() as s:
            row = await self._open_row(s, guild_id, self.clock.now())
            if row is None:
                return None
            entries = await self._history(s, guild_id, user_id, 1, 0, cycle_id=row.id)
            return entries[0] if entries else None

    async def _no_cycle_message(self, s: AsyncSession, guild_id: int, now: dt.datetime) -> str:
        row = await s.get(GuildSettings, guild_id)
        settings = None if row is None else _settings_info(row)
        next_open = _next_open(settings, now)
        return no_checkin_message(next_open, None if settings is None else settings.timezone)

    async def status(self, guild_id: int) -> CheckinStatus:
        """Return the open cycle, how many answered, when it closes and the next opening."""
        now = self.clock.now()
        async with self.db.read() as s:
            row = await s.get(GuildSettings, guild_id)
            settings = None if row is None else _settings_info(row)
            cycle_row = await self._open_row(s, guild_id, now)
            answered = 0
            if cycle_row is not None:
                answered = (
                    await s.scalar(
                        select(func.count()).where(CheckinAnswer.cycle_id == cycle_row.id)
                    )
                    or 0
                )
        cycle = None if cycle_row is None else _cycle_info(cycle_row)
        return CheckinStatus(
            enabled=settings is not None and settings.enabled,
            cycle=cycle,
            answered=answered,
            closes_at=None if cycle is None else cycle.closes_at,
            next_opens_at=_next_open(settings, now),
            timezone=settings.timezone if settings is not None else "UTC",
        )

    async def history(
        self, guild_id: int, user_id: int, limit: int = 10, offset: int = 0
    ) -> tuple[HistoryEntry, ...]:
        """Return a member's answers, newest first."""
        async with self.db.read() as s:
            return await self._history(s, guild_id, user_id, limit, offset)

    @staticmethod
    async def _history(
        s: AsyncSession,
        guild_id: int,
        user_id: int,
        limit: int,
        offset: int,
        cycle_id: int | None = None,
    ) -> tuple[HistoryEntry, ...]:
        query = (
            select(CheckinAnswer, CheckinCycle.opens_at, CheckinCycle.closes_at)
            .join(CheckinCycle, CheckinCycle.id == CheckinAnswer.cycle_id)
            .where(CheckinAnswer.guild_id == guild_id, CheckinAnswer.user_id == user_id)
            .order_by(CheckinCycle.opens_at.desc())
            .limit(max(1, min(limit, 100)))
            .offset(max(0, offset))
        )
        if cycle_id is not None:
            query = query.where(CheckinAnswer.cycle_id == cycle_id)
        rows = await s.execute(query)
        return tuple(
            HistoryEntry(
                cycle_id=answer.cycle_id,
                opens_at=opens_at,
                closes_at=closes_at,
                learned=answer.learned,
                built=answer.built,
                milestones=answer.milestones,
                feedback=answer.feedback,
                hours=answer.hours,
                submitted_at=answer.submitted_at,
                updated_at=answer.updated_at,
            )
            for answer, opens_at, closes_at in rows
        )

    async def history_count(self, guild_id: int, user_id: int) -> int:
        """Return how many answers a member gave in this server."""
        async with self.db.read() as s:
            count = await s.scalar(
                select(func.count()).where(
                    CheckinAnswer.guild_id == guild_id, CheckinAnswer.user_id == user_id
                )
            )
            return count or 0

    async def participation(
        self, guild_id: int, until: dt.datetime | None = None, cycles: int = CHART_CYCLES
    ) -> tuple[CycleCount, ...]:
        """Answers per cycle for the last `cycles` cycles opened by `until` (default: all),
        oldest first: the summary's chart."""
        answered = (
            select(func.count())
            .where(CheckinAnswer.cycle_id == CheckinCycle.id)
            .correlate(CheckinCycle)
            .scalar_subquery()
        )
        query = (
            select(CheckinCycle.id, CheckinCycle.opens_at, answered)
            .where(CheckinCycle.guild_id == guild_id)
            .order_by(CheckinCycle.opens_at.desc())
            .limit(max(1, cycles))
        )
        if until is not None:
            query = query.where(CheckinCycle.opens_at <= until)
        async with self.db.read() as s:
            zone = await self._timezone(s, guild_id)
            rows = (await s.execute(query)).all()
        return tuple(
            CycleCount(cycle_id, local_today(opens_at, zone), int(count or 0))
            for cycle_id, opens_at, count in reversed(rows)
        )

    async def hours(
        self, guild_id: int, user_id: int, weeks: int = CHART_WEEKS
    ) -> tuple[WeekHours, ...]:
        """A member's hours spent learning in their last `weeks` answers, oldest first."""
        query = (
            select(CheckinCycle.opens_at, CheckinAnswer.hours)
            .join(CheckinCycle, CheckinCycle.id == CheckinAnswer.cycle_id)
            .where(CheckinAnswer.guild_id == guild_id, CheckinAnswer.user_id == user_id)
            .order_by(CheckinCycle.opens_at.desc())
            .limit(max(1, weeks))
        )
        async with self.db.read() as s:
            zone = await self._timezone(s, guild_id)
            rows = (await s.execute(query)).all()
        return tuple(
            WeekHours(local_today(opens_at, zone), float(hours))
            for opens_at, hours in reversed(rows)
        )

    @staticmethod
    async def _timezone(s: AsyncSession, guild_id: int) -> str:
        zone = await s.scalar(
            select(GuildSettings.timezone).where(GuildSettings.guild_id == guild_id)
        )
        return safe_timezone(zone)

    # -- streaks and away --

    async def streak(self, guild_id: int, user_id: int) -> int:
        """Return the member's streak of consecutive answered cycles (away weeks kept)."""
        return await self.db.run_fast_read(streak_of, guild_id, user_id, self.clock.now())

    async def set_away(
        self,
        guild_id: int,
        user_id: int,
        until: dt.date,
        display_name: str | None = None,
    ) -> dt.date:
        """Mark a member away until a date (no nudges; the streak is kept).

        "Today" is the bot's clock in the member's timezone, as the nudges read it.
        """
        now = self.clock.now()
        async with self.db.read() as s:
            zone = await s.scalar(
                select(Member.timezone).where(
                    Member.guild_id == guild_id, Member.user_id == user_id
                )
            )
        today = local_today(now, zone)
        if until <= today:
            example = today + dt.timedelta(days=14)
            raise UserError(
                f"Pick a date after today for `until`, for example {example.isoformat()}."
            )
        if until > today + dt.timedelta(days=MAX_AWAY_DAYS):
            latest = today + dt.timedelta(days=MAX_AWAY_DAYS)
            raise UserError(
                f"You can be away for at most a year: pick a date up to {latest.isoformat()}."
            )
        async with self.db.write.begin() as s:
            await s.run_sync(touch_member, guild_id, user_id, display_name, now)
            await s.execute(
                update(Member)
                .where(Member.guild_id == guild_id, Member.user_id == user_id)
                .values(away_until=until)
            )
            # A second `away` on the same day replaces that day's period.
            await s.execute(
                upsert(s, AwayPeriod)
                .values(guild_id=guild_id, user_id=user_id, starts_on=today, ends_on=until)
                .on_conflict_do_update(
                    index_elements=["guild_id", "user_id", "starts_on"], set_={"ends_on": until}
                )
            )
        return until

    # -- nudges --

    async def nudge_targets(self, cycle_id: int) -> tuple[int, ...]:
        """Mark the cycle nudged (once) and return whom to nudge.

        Members who answered one of the four cycles before this one, have not answered this
        one, are not away, subscribed to reminders and have no DM failure on record.
        A second call returns nothing.
        """
        now = self.clock.now()
        async with self.db.write.begin() as s:
            cycle = await s.get(CheckinCycle, cycle_id)
            if cycle is None or cycle.closed_at is not None:
                return ()
            marked = await s.execute(
                update(CheckinCycle)
                .where(CheckinCycle.id == cycle_id, CheckinCycle.nudged_at.is_(None))
                .values(nudged_at=now)
            )
            if _rowcount(marked) == 0:
                return ()
            previous = list(
                await s.scalars(
                    select(CheckinCycle.id)
                    .where(
                        CheckinCycle.guild_id == cycle.guild_id,
                        CheckinCycle.opens_at < cycle.opens_at,
                    )
                    .order_by(CheckinCycle.opens_at.desc())
                    .limit(NUDGE_LOOKBACK)
                )
            )
            if not previous:
                return ()
            answered_recently = exists().where(
                CheckinAnswer.cycle_id.in_(previous),
                CheckinAnswer.user_id == Member.user_id,
            )
            answered_now = exists().where(
                CheckinAnswer.cycle_id == cycle_id, CheckinAnswer.user_id == Member.user_id
            )
            rows = await s.scalars(
                select(Member.user_id)
                .where(
                    Member.guild_id == cycle.guild_id,
                    Member.reminders_subscribed.is_(True),
                    Member.dm_failed_at.is_(None),
                    or_(Member.away_until.is_(None), Member.away_until < now.date()),
                    answered_recently,
                    ~answered_now,
                )
                .order_by(Member.user_id)
            )
            return tuple(rows)

    # -- closing --

    async def close_cycle(self, cycle_id: int) -> CycleSummary | None:
        """Close a cycle once and return its summary; None if it was already closed."""
        now = self.clock.now()
        async with self.db.write.begin() as s:
            result = await s.execute(
                update(CheckinCycle)
                .where(CheckinCycle.id == cycle_id, CheckinCycle.closed_at.is_(None))
                .values(closed_at=now)
            )
            if _rowcount(result) == 0:
                return None
        return await self.summary(cycle_id)

    async def summary(self, cycle_id: int) -> CycleSummary | None:
        """Summarise a cycle: participation, top streaks, hours, milestones, level-ups."""
        now = self.clock.now()
        async with self.db.read() as s:
            row = await s.get(CheckinCycle, cycle_id)
            if row is None:
                return None
            cycle = _cycle_info(row)
            end = cycle.closed_at or now
            count, total = (
                await s.execute(
                    select(func.count(), func.coalesce(func.sum(CheckinAnswer.hours), 0.0)).where(
                        CheckinAnswer.cycle_id == cycle_id
                    )
                )
            ).one()
            milestones = await s.scalar(
                select(func.count()).where(
                    Completion.guild_id == cycle.guild_id,
                    Completion.completed_at >= cycle.opens_at,
                    Completion.completed_at < end,
                )
            )
            level_filter = (
                LevelAnnouncement.guild_id == cycle.guild_id,
                LevelAnnouncement.reached_at >= cycle.opens_at,
                LevelAnnouncement.reached_at < end,
            )
            level_up_count = await s.scalar(select(func.count()).where(*level_filter))
            level_rows = await s.execute(
                select(LevelAnnouncement.user_id, Member.display_name, LevelAnnouncement.level)
                .outerjoin(
                    Member,
                    (Member.guild_id == LevelAnnouncement.guild_id)
                    & (Member.user_id == LevelAnnouncement.user_id),
                )
                .where(*level_filter)
                .order_by(LevelAnnouncement.reached_at)
                .limit(MAX_LEVEL_UPS)
            )
            level_ups = tuple(
                LevelUp(user_id, name or "", level) for user_id, name, level in level_rows
            )
            top = await _top_streaks(s, cycle, now)
        answered = int(count or 0)
        total_hours = round(float(total or 0.0), 2)
        return CycleSummary(
            cycle=cycle,
            answered=answered,
            top_streaks=top,
            total_hours=total_hours,
            average_hours=round(total_hours / answered, 2) if answered else 0.0,
            milestones_completed=int(milestones or 0),
            level_ups=level_ups,
            level_up_count=int(level_up_count or 0),
        )


async def _top_streaks(
    s: AsyncSession, cycle: CycleInfo, now: dt.datetime
) -> tuple[StreakEntry, ...]:
    """Walk cycles back one query per cycle (never one per member) for this cycle's answerers."""
    cycles = await _cycle_rows(s, cycle.guild_id, cycle.opens_at)
    participants = set(
        await s.scalars(select(CheckinAnswer.user_id).where(CheckinAnswer.cycle_id == cycle.id))
    )
    if not participants:
        return ()
    away: dict[int, list[tuple[dt.date, dt.date]]] = {}
    away_rows = await s.execute(
        select(AwayPeriod.user_id, AwayPeriod.starts_on, AwayPeriod.ends_on).where(
            AwayPeriod.guild_id == cycle.guild_id
        )
    )
    for user_id, starts_on, ends_on in away_rows:
        if user_id in participants:
            away.setdefault(user_id, []).append((starts_on, ends_on))
    state = dict.fromkeys(participants, 0)
    active = set(participants)
    for row in cycles:
        if not active:
            break
        if row.id == cycle.id:
            answered = participants
        else:
            answered = set(
                await s.scalars(
                    select(CheckinAnswer.user_id).where(CheckinAnswer.cycle_id == row.id)
                )
            )
        for user_id in list(active):
            state[user_id], go_on = streak_step(
                state[user_id], row, user_id in answered, away.get(user_id, ()), now
            )
            if not go_on:
                active.discard(user_id)
    best = sorted(state.items(), key=lambda item: (-item[1], item[0]))[:TOP_STREAKS]
    name_rows = await s.execute(
        select(Member.user_id, Member.display_name).where(
            Member.guild_id == cycle.guild_id,
            Member.user_id.in_([user_id for user_id, _ in best]),
        )
    )
    names: dict[int, str] = dict(name_rows.all())
    return tuple(StreakEntry(user_id, names.get(user_id) or "", streak) for user_id, streak in best)


_cy = CheckinCycle.__table__.c
_ans = CheckinAnswer.__table__.c
_away = AwayPeriod.__table__.c
STREAK_PAGE = 16
# Newest cycles first, each with whether the member answered it: a streak walks back only
# as far as it goes, a page at a time, instead of reading every cycle of the server.
_STREAK_CYCLES = (
    select(
        _cy.id,
        _cy.opens_at,
        _cy.closes_at,
        _cy.closed_at,
        exists().where(_ans.cycle_id == _cy.id, _ans.user_id == bindparam("user")),
    )
    .where(_cy.guild_id == bindparam("guild"))
    .order_by(_cy.opens_at.desc(), _cy.id.desc())
    .limit(STREAK_PAGE)
    .offset(bindparam("offset"))
)
# Whether the server has had a check-in (a column for other reads: without one, no streak).
ANY_CYCLE = exists().where(_cy.guild_id == bindparam("guild"))
_AWAY = select(_away.starts_on, _away.ends_on).where(
    _away.guild_id == bindparam("guild"), _away.user_id == bindparam("user")
)


def streak_of(s: Executes, guild_id: int, user_id: int, now: dt.datetime) -> int:
    """A member's streak (see `count_streak`) as plain synchronous code, in one unit of work."""
    key = {"guild": guild_id, "user": user_id}
    away: AwayDays | None = None  # read once there is a cycle to count
    streak, offset = 0, 0
    while True:
        rows = s.execute(_STREAK_CYCLES, {**key, "offset": offset}).all()
        if not rows:  # no (more) check-ins in this server
            return streak
        if away is None:
            away = [(start, end) for start, end in s.execute(_AWAY, key)]
        for row in rows:
            cycle = _CycleRow(row.id, row.opens_at, row.closes_at, row.closed_at)
            streak, go_on = streak_step(streak, cycle, bool(row[4]), away, now)
            if not go_on:
                return streak
        if len(rows) < STREAK_PAGE:
            return streak
        offset += STREAK_PAGE


async def _cycle_rows(s: AsyncSession, guild_id: int, up_to: dt.datetime | None) -> list[_CycleRow]:
    query = (
        select(
            CheckinCycle.id, CheckinCycle.opens_at, CheckinCycle.closes_at, CheckinCycle.closed_at
        )
        .where(CheckinCycle.guild_id == guild_id)
        .order_by(CheckinCycle.opens_at.desc())
    )
    if up_to is not None:
        query = query.where(CheckinCycle.opens_at <= up_to)
    rows = await s.execute(query)
    return [_CycleRow(*row) for row in rows]


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


__all__ = [
    "AnswerResult",
    "Answers",
    "CheckinService",
    "CheckinSettings",
    "CheckinStatus",
    "CycleCount",
    "CycleInfo",
    "CycleSummary",
    "HistoryEntry",
    "LevelUp",
    "StreakEntry",
    "WeekHours",
    "count_streak",
    "parse_hours",
]
