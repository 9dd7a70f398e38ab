"""The reminders' scheduled jobs: a server's weekly post and members' weekly DMs.

No Discord here: the cog hands in a `ReminderPoster` that posts; tests hand in a fake one.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from bot.defaults import REMINDER_WINDOW
from bot.scheduler import JobKind, PlannedRun, RunContext, Scope, publish, weekly_run
from bot.services.reminders import (
    DM_JOB,
    POST_JOB,
    ChannelReminder,
    MemberReminder,
    ReminderService,
)


class ReminderPoster(Protocol):
    """What the reminder jobs need from Discord.

    Raise `PublishError` with a readable reason when Discord refuses (deleted channel, 403).
    """

    async def post_reminder(
        self, guild_id: int, channel_id: int, reminder: ChannelReminder
    ) -> None:
        """Post the weekly continuous-learning reminder in a channel."""
        ...

    async def send_reminder_dm(self, guild_id: int, user_id: int, reminder: MemberReminder) -> bool:
        """DM a member's weekly reminder; return False if the member's DMs are closed."""
        ...


class ReminderJobs:
    """Plans and runs the weekly reminder post and the members' DMs."""

    def __init__(self, reminders: ReminderService, poster: ReminderPoster) -> None:
        self.reminders = reminders
        self.poster = poster

    def kinds(self) -> list[JobKind]:
        """The kinds to register."""
        return [
            JobKind(POST_JOB, "weekly reminder", self._plan_posts, self._post, skip_past=True),
            JobKind(DM_JOB, "reminder DM", self._plan_dms, self._dm, skip_past=True),
        ]

    async def _plan_posts(
        self, scope: Scope | None, now: dt.datetime, due: bool
    ) -> list[PlannedRun]:
        if scope is not None and scope[1] is not None:
            return []
        runs: list[PlannedRun] = []
        for settings in await self.reminders.scheduled_posts(scope[0] if scope else None):
            schedule = settings.active
            assert schedule is not None
            key = f"{POST_JOB}:{settings.guild_id}"
            template = PlannedRun(POST_JOB, key, now, REMINDER_WINDOW, settings.guild_id)
            runs += weekly_run(template, schedule, now, due)
        return runs

    async def _plan_dms(self, scope: Scope | None, now: dt.datetime, due: bool) -> list[PlannedRun]:
        if scope is not None and scope[1] is None:
            return []
        runs: list[PlannedRun] = []
        guild, user = scope if scope is not None else (None, None)
        for guild_id, user_id, schedule in await self.reminders.subscriptions(guild, user):
            key = f"{DM_JOB}:{guild_id}:{user_id}"
            template = PlannedRun(DM_JOB, key, now, REMINDER_WINDOW, guild_id, user_id=user_id)
            runs += weekly_run(template, schedule, now, due)
        return runs

    async def _post(self, run: PlannedRun, context: RunContext) -> None:
        reminder = await self.reminders.channel_reminder(run.guild_id)
        if reminder is None:
            return
        await publish(
            f"Could not post the weekly reminder in <#{reminder.channel_id}>",
            self.poster.post_reminder(run.guild_id, reminder.channel_id, reminder),
        )

    async def _dm(self, run: PlannedRun, context: RunContext) -> None:
        assert run.user_id is not None
        reminder = await self.reminders.member_reminder(run.guild_id, run.user_id)
        if reminder is None:
            return
        delivered = await publish(
            f"Could not DM the weekly reminder to <@{run.user_id}>",
            self.poster.send_reminder_dm(run.guild_id, run.user_id, reminder),
        )
        if not delivered:
            await self.reminders.record_dm_failure(run.guild_id, run.user_id)
