"""The check-in's scheduled jobs: open each week, nudge before the close, close with a summary.

No Discord here: the cog hands in a `CheckinPoster` that posts; tests hand in a fake one.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Protocol

from bot.errors import UserError
from bot.scheduler import JobError, JobKind, PlannedRun, RunContext, Scope, publish, weekly_run
from bot.services.checkins import (
    CLOSE_JOB,
    NUDGE_JOB,
    OPEN_JOB,
    CheckinService,
    CycleInfo,
    CycleSummary,
)
from bot.services.reminders import ReminderService

log = logging.getLogger(__name__)


class CheckinPoster(Protocol):
    """What the check-in jobs need from Discord.

    Raise `PublishError` with a readable reason when Discord refuses (deleted channel, 403).
    """

    async def post_checkin_prompt(
        self, guild_id: int, channel_id: int, cycle: CycleInfo
    ) -> int | None:
        """Post the prompt with its Answer button; return the message id."""
        ...

    async def post_checkin_summary(
        self, guild_id: int, channel_id: int, summary: CycleSummary
    ) -> None:
        """Post the summary of a closed cycle."""
        ...

    async def send_nudge(self, guild_id: int, user_id: int, cycle: CycleInfo) -> bool:
        """DM a nudge; return False if the member's DMs are closed."""
        ...


def close_run(cycle: CycleInfo) -> PlannedRun:
    """A close is never too late: an overdue close always runs."""
    return PlannedRun(
        CLOSE_JOB, f"{CLOSE_JOB}:{cycle.id}", cycle.closes_at, None, cycle.guild_id, target=cycle.id
    )


class CheckinJobs:
    """Plans and runs the three kinds of check-in job."""

    def __init__(
        self, checkins: CheckinService, reminders: ReminderService, poster: CheckinPoster
    ) -> None:
        self.checkins = checkins
        self.reminders = reminders
        self.poster = poster

    def kinds(self) -> list[JobKind]:
        """The kinds to register, in the order runs due together go."""
        return [
            JobKind(CLOSE_JOB, "check-in close", self._plan_close, self._close),
            JobKind(
                OPEN_JOB,
                "check-in opening",
                self._plan_open,
                self._open,
                skip_past=True,
                run_now=self.open_now,
            ),
            JobKind(NUDGE_JOB, "check-in nudge", self._plan_nudge, self._nudge),
        ]

    # -- planning --

    async def _plan_open(
        self, scope: Scope | None, now: dt.datetime, due: bool
    ) -> list[PlannedRun]:
        if scope is not None and scope[1] is not None:
            return []
        runs: list[PlannedRun] = []
        for settings in await self.checkins.scheduled(scope[0] if scope else None):
            schedule = settings.active
            assert schedule is not None
            key = f"{OPEN_JOB}:{settings.guild_id}"
            window = dt.timedelta(hours=settings.open_hours)
            template = PlannedRun(OPEN_JOB, key, now, window, settings.guild_id)
            runs += weekly_run(template, schedule, now, due)
        return runs

    async def _cycles(self, scope: Scope | None) -> list[CycleInfo]:
        if scope is not None and scope[1] is not None:
            return []
        return await self.checkins.unclosed_cycles(scope[0] if scope else None)

    async def _plan_close(
        self, scope: Scope | None, now: dt.datetime, due: bool
    ) -> list[PlannedRun]:
        return [close_run(c) for c in await self._cycles(scope) if (c.closes_at <= now) == due]

    async def _plan_nudge(
        self, scope: Scope | None, now: dt.datetime, due: bool
    ) -> list[PlannedRun]:
        runs = []
        for cycle in await self._cycles(scope):
            at = cycle.nudge_at
            if cycle.nudged_at is not None:
                continue
            if (due and at <= now < cycle.closes_at) or (not due and at > now):
                key = f"{NUDGE_JOB}:{cycle.id}"
                window = cycle.closes_at - at
                runs.append(PlannedRun(NUDGE_JOB, key, at, window, cycle.guild_id, target=cycle.id))
        return runs

    # -- running --

    async def _open(self, run: PlannedRun, context: RunContext) -> None:
        # A cycle still open from before (say, an admin's check-in now) closes first.
        for old in await self.checkins.unclosed_cycles(run.guild_id):
            if old.opens_at < run.due_at:
                await context.execute(close_run(old))
        cycle = await self.checkins.open_cycle(run.guild_id, opens_at=run.due_at)
        if cycle is not None:
            await self._post_prompt(cycle)

    async def open_now(self, guild_id: int) -> CycleInfo:
        """Open a check-in at once (an admin's check-in now) and post its prompt."""
        cycle = await self.checkins.open_cycle(guild_id)
        if cycle is None:
            raise UserError("A check-in was opened at this very moment: see /checkin status.")
        try:
            await self._post_prompt(cycle)
        except JobError as exc:
            raise JobError(f"The check-in is open, but: {exc}") from None
        return cycle

    async def _post_prompt(self, cycle: CycleInfo) -> None:
        message_id = await publish(
            f"Could not post the check-in prompt in <#{cycle.channel_id}>",
            self.poster.post_checkin_prompt(cycle.guild_id, cycle.channel_id, cycle),
        )
        if message_id is not None:
            await self.checkins.set_prompt_message(cycle.id, message_id)

    async def _close(self, run: PlannedRun, context: RunContext) -> None:
        assert run.target is not None
        summary = await self.checkins.close_cycle(run.target)
        if summary is None:
            return
        channel_id = summary.cycle.channel_id
        await publish(
            f"Could not post the check-in summary in <#{channel_id}>",
            self.poster.post_checkin_summary(run.guild_id, channel_id, summary),
        )

    async def _nudge(self, run: PlannedRun, context: RunContext) -> None:
        assert run.target is not None
        cycle = await self.checkins.cycle(run.target)
        if cycle is None or cycle.closed_at is not None or cycle.closes_at <= context.now:
            return
        errors: list[str] = []
        for user_id in await self.checkins.nudge_targets(run.target):
            try:
                delivered = await publish(
                    f"Could not DM a check-in nudge to <@{user_id}>",
                    self.poster.send_nudge(run.guild_id, user_id, cycle),
                )
            except JobError as exc:
                log.warning("Job %s for guild %s: %s", run.key, run.guild_id, exc)
                errors.append(str(exc))
                continue
            if not delivered:
                await self.reminders.record_dm_failure(run.guild_id, user_id)
        if errors:
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise JobError(errors[0] + more)
