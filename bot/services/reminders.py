"""Continuous-learning reminders: the weekly channel post and members' weekly DMs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select, union, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock, SystemClock
from bot.db import Database
from bot.db.models import CheckinAnswer, Completion, GuildSettings, Member
from bot.defaults import ASSESS_EVERY_WEEKS, REMINDER_TIME, REMINDER_WEEKDAY
from bot.roadmap import Item, Principle, Roadmap
from bot.services.assessments import assessment_due
from bot.services.guilds import save_settings
from bot.services.members import check_timezone
from bot.services.progress import touch_member
from bot.services.untold import UntoldMembers
from bot.weekly import WeeklyTime, local_today, parse_stored_time, safe_timezone

POST_JOB = "reminder"
DM_JOB = "member-reminder"
"""The names of the reminders' scheduled jobs (their kinds register with the scheduler)."""

MAX_ITEMS = 3
MAX_NOTICES = 20
WEEK = dt.timedelta(days=7)


@dataclass(frozen=True)
class ReminderSettings:
    """A server's weekly reminder post; its schedule's timezone is the one in effect."""

    guild_id: int
    enabled: bool
    channel_id: int | None
    schedule: WeeklyTime | None
    own_timezone: str | None

    @property
    def active(self) -> WeeklyTime | None:
        """The weekly schedule when the posts are on and fully set up, else None."""
        if not self.enabled or self.channel_id is None:
            return None
        return self.schedule


def member_schedule(member: Member) -> WeeklyTime:
    """A member's reminder DM time: their day and time (default Monday 09:00), their zone."""
    weekday = member.reminder_weekday
    time = parse_stored_time(member.reminder_time) if member.reminder_time else REMINDER_TIME
    return WeeklyTime(
        REMINDER_WEEKDAY if weekday is None else weekday, time, safe_timezone(member.timezone)
    )


def server_schedule(row: GuildSettings) -> WeeklyTime | None:
    """A server's reminder post time, in its own timezone or else the server's."""
    return WeeklyTime.stored(
        row.reminder_weekday, row.reminder_time, row.reminder_timezone or row.timezone
    )


@dataclass(frozen=True)
class WeekNumbers:
    """The server's last 7 days."""

    milestones_completed: int
    active_members: int
    checkin_answers: int


@dataclass(frozen=True)
class ChannelReminder:
    """The weekly post: a principle, the week in numbers, members to tell their DMs fail."""

    guild_id: int
    channel_id: int
    principle: Principle
    week: WeekNumbers
    dm_failed_user_ids: tuple[int, ...]


@dataclass(frozen=True)
class MemberReminder:
    """A member's weekly DM: their next checklist items and a principle."""

    guild_id: int
    user_id: int
    level: int
    level_title: str
    items: tuple[Item, ...]
    principle: Principle
    # A line about `/assess rate` when the member's last self-assessment is older than the
    # server's cadence (never a message of its own).
    assessment_due: bool = False
    last_assessed_on: dt.date | None = None
    assess_every_weeks: int = 0


@dataclass(frozen=True)
class SubscriptionStatus:
    """What `/reminders status` shows."""

    subscribed: bool
    schedule: WeeklyTime
    next_at: dt.datetime | None
    dm_failed: bool
    away_until: dt.date | None


def next_principle(principles: tuple[Principle, ...], last: int | None) -> Principle:
    """Return the principle after `last` in rotation (never `last` again if there are two)."""
    ordered = sorted(principles, key=lambda principle: principle.number)
    numbers = [principle.number for principle in ordered]
    if last in numbers:
        return ordered[(numbers.index(last) + 1) % len(ordered)]
    return ordered[0]


class ReminderService:
    """Reminder rules; every method takes plain ids and values."""

    def __init__(self, db: Database, roadmap: Roadmap, clock: Clock | None = None) -> None:
        self.db = db
        self.roadmap = roadmap
        self.clock: Clock = clock or SystemClock()
        # Per server, read on first use: members whose DMs failed and who were not told.
        self._untold = UntoldMembers(self._load_untold)

    # -- the server's weekly post --

    async def configure(
        self,
        guild_id: int,
        *,
        channel_id: int,
        weekday: int,
        time: dt.time,
        timezone: str | None = None,
    ) -> ReminderSettings:
        """Set the weekly reminder post (timezone: its own, else the server's, else UTC)."""
        own = check_timezone(timezone) if timezone else None
        values: dict[str, object] = {
            "reminders_enabled": True,
            "reminder_channel_id": channel_id,
            "reminder_weekday": weekday,
            "reminder_time": time.strftime("%H:%M"),
            "reminder_timezone": own,
        }
        async with self.db.write.begin() as s:
            await save_settings(s, guild_id, values, self.clock.now())
            server_tz = await s.scalar(
                select(GuildSettings.timezone).where(GuildSettings.guild_id == guild_id)
            )
        schedule = WeeklyTime(weekday, time, safe_timezone(own or server_tz))
        return ReminderSettings(guild_id, True, channel_id, schedule, own)

    async def disable(self, guild_id: int) -> None:
        """Stop the weekly reminder post."""
        async with self.db.write.begin() as s:
            await save_settings(s, guild_id, {"reminders_enabled": False}, self.clock.now())

    async def settings(self, guild_id: int) -> ReminderSettings | None:
        """Return the server's reminder settings, if it has a settings row."""
        async with self.db.read() as s:
            row = await s.get(GuildSettings, guild_id)
        if row is None:
            return None
        return ReminderSettings(
            guild_id=guild_id,
            enabled=bool(row.reminders_enabled),
            channel_id=row.reminder_channel_id,
            schedule=server_schedule(row),
            own_timezone=row.reminder_timezone,
        )

    async def scheduled_posts(self, guild_id: int | None = None) -> list[ReminderSettings]:
        """The servers (or this one) whose weekly reminder posts are on."""
        query = select(GuildSettings).where(GuildSettings.reminders_enabled.is_(True))
        if guild_id is not None:
            query = query.where(GuildSettings.guild_id == guild_id)
        async with self.db.read() as s:
            rows = list(await s.scalars(query))
        found = [
            ReminderSettings(
                row.guild_id,
                True,
                row.reminder_channel_id,
                server_schedule(row),
                row.reminder_timezone,
            )
            for row in rows
        ]
        return [settings for settings in found if settings.active is not None]

    async def subscriptions(
        self, guild_id: int | None = None, user_id: int | None = None
    ) -> list[tuple[int, int, WeeklyTime]]:
        """(guild, member, schedule) of every member who gets reminder DMs (or of one)."""
        query = select(Member).where(
            Member.reminders_subscribed.is_(True), Member.dm_failed_at.is_(None)
        )
        if guild_id is not None and user_id is not None:
            query = query.where(Member.guild_id == guild_id, Member.user_id == user_id)
        async with self.db.read() as s:
            members = list(await s.scalars(query))
        return [(m.guild_id, m.user_id, member_schedule(m)) for m in members]

    async def channel_reminder(self, guild_id: int) -> ChannelReminder | None:
        """Build this week's post and advance the principle rotation; None if not set up.

        Members whose DMs failed and who were not told yet are listed (and marked told).
        """
        now = self.clock.now()
        since = now - WEEK
        async with self.db.write.begin() as s:
            row = await s.get(GuildSettings, guild_id)
            if row is None or row.reminder_channel_id is None or not self.roadmap.principles:
                return None
            principle = next_principle(self.roadmap.principles, row.last_principle)
            row.last_principle = principle.number
            week = await _week_numbers(s, guild_id, since, now)
            untold = tuple(
                await s.scalars(
                    select(Member.user_id)
                    .where(
                        Member.guild_id == guild_id,
                        Member.dm_failed_at.is_not(None),
                        Member.dm_failure_told.is_(False),
                    )
                    .order_by(Member.dm_failed_at)
                    .limit(MAX_NOTICES)
                )
            )
            if untold:
                await s.execute(
                    update(Member)
                    .where(Member.guild_id == guild_id, Member.user_id.in_(untold))
                    .values(dm_failure_told=True)
                )
            channel_id = row.reminder_channel_id
        return ChannelReminder(guild_id, channel_id, principle, week, untold)

    # -- members' DMs --

    async def subscribe(
        self,
        guild_id: int,
        user_id: int,
        weekday: int | None = None,
        time: dt.time | None = None,
        *,
        display_name: str | None = None,
    ) -> SubscriptionStatus:
        """Subscribe to weekly DMs (default Monday 09:00 in the member's timezone).

        A day or time left out keeps the one chosen before. Subscribing again clears a
        recorded DM failure, so DMs are tried again.
        """
        values: dict[str, object] = {
            "reminders_subscribed": True,
            "dm_failed_at": None,
            "dm_failure_told": False,
        }
        if weekday is not None:
            values["reminder_weekday"] = weekday
        if time is not None:
            values["reminder_time"] = time.strftime("%H:%M")
        async with self.db.write.begin() as s:
            await s.run_sync(touch_member, guild_id, user_id, display_name, self.clock.now())
            await s.execute(
                update(Member)
                .where(Member.guild_id == guild_id, Member.user_id == user_id)
                .values(**values)
            )
        return await self.status(guild_id, user_id)

    async def unsubscribe(self, guild_id: int, user_id: int) -> bool:
        """Stop weekly DMs; return whether the member was subscribed."""
        async with self.db.write.begin() as s:
            result = await s.execute(
                update(Member)
                .where(
                    Member.guild_id == guild_id,
                    Member.user_id == user_id,
                    Member.reminders_subscribed.is_(True),
                )
                .values(reminders_subscribed=False)
            )
        return bool(getattr(result, "rowcount", 0))

    async def status(self, guild_id: int, user_id: int) -> SubscriptionStatus:
        """Return the member's subscription and when the next DM goes out."""
        async with self.db.read() as s:
            member = await s.get(Member, (guild_id, user_id))
        if member is None:
            default = WeeklyTime(REMINDER_WEEKDAY, REMINDER_TIME)
            return SubscriptionStatus(False, default, None, False, None)
        schedule = member_schedule(member)
        failed = member.dm_failed_at is not None
        active = bool(member.reminders_subscribed) and not failed
        return SubscriptionStatus(
            subscribed=bool(member.reminders_subscribed),
            schedule=schedule,
            next_at=schedule.next_after(self.clock.now()) if active else None,
            dm_failed=failed,
            away_until=member.away_until,
        )

    async def member_reminder(self, guild_id: int, user_id: int) -> MemberReminder | None:
        """Build a member's DM; None if they are not subscribed, their DMs fail, or away."""
        now = self.clock.now()
        async with self.db.read() as s:
            member = await s.get(Member, (guild_id, user_id))
            if (
                member is None
                or not member.reminders_subscribed
                or member.dm_failed_at is not None
                or (member.away_until is not None and member.away_until >= now.date())
            ):
                return None
            done = set(
                await s.scalars(
                    select(Completion.item_id).where(
                        Completion.guild_id == guild_id, Completion.user_id == user_id
                    )
                )
            )
            every = await s.scalar(
                select(GuildSettings.assess_every_weeks).where(GuildSettings.guild_id == guild_id)
            )
        every = ASSESS_EVERY_WEEKS if every is None else every
        today = local_today(now, member.timezone)
        due = assessment_due(member.last_assessed_on, today, every)
        level, items = self.next_items(done)
        principles = sorted(self.roadmap.principles, key=lambda principle: principle.number)
        principle = principles[now.isocalendar().week % len(principles)]
        title = self.roadmap.level_title(level) if level else ""
        return MemberReminder(
            guild_id, user_id, level, title, items, principle, due, member.last_assessed_on, every
        )

    def next_items(self, done: set[str]) -> tuple[int, tuple[Item, ...]]:
        """Return the lowest level whose checklist is not complete and its next items.

        (0, ()) when every checklist is complete.
        """
        for level in sorted(self.roadmap.levels, key=lambda level: level.number):
            todo = tuple(item for item in level.checklist if item.id not in done)
            if todo:
                return level.number, todo[:MAX_ITEMS]
        return 0, ()

    async def record_dm_failure(self, guild_id: int, user_id: int) -> None:
        """Remember that a DM could not be delivered: no more DMs until they resubscribe."""
        now = self.clock.now()
        async with self.db.write.begin() as s:
            await s.run_sync(touch_member, guild_id, user_id, None, now)
            await s.execute(
                update(Member)
                .where(
                    Member.guild_id == guild_id,
                    Member.user_id == user_id,
                    Member.dm_failed_at.is_(None),
                )
                .values(dm_failed_at=now, dm_failure_told=False)
            )
        self._untold.mark(guild_id, user_id)

    async def take_dm_failure_notice(self, guild_id: int, user_id: int) -> bool:
        """Return True exactly once after a DM failure, so the member is told once."""
        # Checked after every command: the server's untold members are known in memory, so
        # the common case reads nothing at all.
        token = await self._untold.pending(guild_id, user_id)
        if token is None:
            return False
        untold = (
            Member.guild_id == guild_id,
            Member.user_id == user_id,
            Member.dm_failed_at.is_not(None),
            Member.dm_failure_told.is_(False),
        )
        async with self.db.write.begin() as s:
            result = await s.execute(update(Member).where(*untold).values(dm_failure_told=True))
        self._untold.told(guild_id, user_id, token)
        return bool(getattr(result, "rowcount", 0))

    async def _load_untold(self, guild_id: int) -> set[int]:
        """Read the server's members with a DM failure they were not told about."""
        async with self.db.read() as s:
            return set(
                await s.scalars(
                    select(Member.user_id).where(
                        Member.guild_id == guild_id,
                        Member.dm_failed_at.is_not(None),
                        Member.dm_failure_told.is_(False),
                    )
                )
            )


async def _week_numbers(
    s: AsyncSession, guild_id: int, since: dt.datetime, now: dt.datetime
) -> WeekNumbers:
    completions = (
        Completion.guild_id == guild_id,
        Completion.completed_at >= since,
        Completion.completed_at < now,
    )
    answers = (
        CheckinAnswer.guild_id == guild_id,
        CheckinAnswer.updated_at >= since,
        CheckinAnswer.updated_at < now,
    )
    milestones = await s.scalar(select(func.count()).where(*completions))
    answer_count = await s.scalar(select(func.count()).where(*answers))
    active_users = union(
        select(Completion.user_id).where(*completions),
        select(CheckinAnswer.user_id).where(*answers),
    ).subquery()
    active = await s.scalar(select(func.count()).select_from(active_users))
    return WeekNumbers(int(milestones or 0), int(active or 0), int(answer_count or 0))
