"""Test doubles: a clock that moves when told, and the scheduled jobs' Discord side."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field

from bot.clock import as_utc
from bot.db import Database
from bot.roadmap import Roadmap
from bot.scheduler import PublishError, Scheduler
from bot.services.checkins import CycleInfo, CycleSummary
from bot.services.container import build
from bot.services.reminders import ChannelReminder, MemberReminder
from cogs.checkins._jobs import CheckinJobs
from cogs.reminders._jobs import ReminderJobs


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: dt.datetime) -> None:
        self._now = as_utc(start)

    def now(self) -> dt.datetime:
        """Return the fake current time."""
        return self._now

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        """Move the clock forward and return the new time."""
        self._now += delta
        return self._now

    def set(self, when: dt.datetime) -> dt.datetime:
        """Move the clock to `when` and return it."""
        self._now = as_utc(when)
        return self._now


@dataclass
class FakePublisher:
    """Records what the check-in and reminder jobs would send to Discord.

    `fail_guilds` maps a guild id to the exception every call for that guild raises;
    `closed_dms` holds user ids whose DMs are closed (send_* return False).
    """

    fail_guilds: dict[int, Exception] = field(default_factory=dict)
    closed_dms: set[int] = field(default_factory=set)
    prompts: list[tuple[int, int, CycleInfo]] = field(default_factory=list)
    summaries: list[tuple[int, int, CycleSummary]] = field(default_factory=list)
    nudges: list[tuple[int, int, CycleInfo]] = field(default_factory=list)
    reminders: list[tuple[int, int, ChannelReminder]] = field(default_factory=list)
    dms: list[tuple[int, int, MemberReminder]] = field(default_factory=list)
    next_message_id: int = 900_000

    def _check(self, guild_id: int) -> None:
        error = self.fail_guilds.get(guild_id)
        if error is not None:
            raise error

    async def post_checkin_prompt(
        self, guild_id: int, channel_id: int, cycle: CycleInfo
    ) -> int | None:
        """Record the prompt; return a fresh message id."""
        self._check(guild_id)
        self.prompts.append((guild_id, channel_id, cycle))
        self.next_message_id += 1
        return self.next_message_id

    async def post_checkin_summary(
        self, guild_id: int, channel_id: int, summary: CycleSummary
    ) -> None:
        """Record the summary."""
        self._check(guild_id)
        self.summaries.append((guild_id, channel_id, summary))

    async def send_nudge(self, guild_id: int, user_id: int, cycle: CycleInfo) -> bool:
        """Record the nudge unless the member's DMs are closed."""
        self._check(guild_id)
        if user_id in self.closed_dms:
            return False
        self.nudges.append((guild_id, user_id, cycle))
        return True

    async def post_reminder(
        self, guild_id: int, channel_id: int, reminder: ChannelReminder
    ) -> None:
        """Record the channel reminder."""
        self._check(guild_id)
        self.reminders.append((guild_id, channel_id, reminder))

    async def send_reminder_dm(self, guild_id: int, user_id: int, reminder: MemberReminder) -> bool:
        """Record the DM unless the member's DMs are closed."""
        self._check(guild_id)
        if user_id in self.closed_dms:
            return False
        self.dms.append((guild_id, user_id, reminder))
        return True


def oversleep(scheduler: Scheduler, clock: FakeClock) -> list[str]:
    """Show APScheduler what a machine that slept until `clock.now()` would: every job due by
    the fake clock becomes due, just as late, by the real clock APScheduler runs on. Its own
    late-run handling (a late fire, or EVENT_JOB_MISSED past a job's grace) then takes over.
    Return the ids of the jobs woken."""
    real_now = dt.datetime.now(dt.UTC)
    woken = []
    for job in scheduler.jobs():
        due = job.trigger.run_date
        if due <= clock.now():
            job.modify(next_run_time=real_now - (clock.now() - due))
            woken.append(job.id)
    return woken


async def settled(scheduler: Scheduler, timeout: float = 10) -> None:  # noqa: ASYNC109
    """Wait until what `oversleep` woke has been handled (and the next runs are planned)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        for _ in range(5):  # APScheduler's executor task, its done callback, a spawned task
            await asyncio.sleep(0)
        if not scheduler.busy:
            return
        assert loop.time() < deadline, "the scheduler is still busy"
        await asyncio.sleep(0.01)


def forbidden() -> PublishError:
    """Return the error a publisher raises for a 403."""
    return PublishError("Missing Permissions (403)")


def scheduler_with_jobs(
    db: Database, roadmap: Roadmap, clock: FakeClock, publisher: FakePublisher
) -> Scheduler:
    """A scheduler with the check-in and reminder jobs registered, posting to `publisher`."""
    services = build(db, roadmap, clock)
    scheduler = Scheduler(db, clock, record_error=services.guilds.record_error)
    scheduler.register(
        *CheckinJobs(services.checkins, services.reminders, publisher).kinds(),
        *ReminderJobs(services.reminders, publisher).kinds(),
    )
    return scheduler
