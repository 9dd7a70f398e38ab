"""The scheduler: plans, claims (once, in the database) and runs the registered jobs.

The database is the source of truth. APScheduler (in-memory jobs only) decides *when* to
wake up; every wake-up asks the job kinds what is due and claims each run by inserting a
`JobRun` row whose key is `(job_key, due_at)`. A conflicting insert means another process
or an earlier run already did it, so "once" holds across restarts and processes. Claims are
taken before the work: a run is done at most once.

No chain of runs can die. A wake-up that comes late (the machine slept, the clock jumped)
is treated like downtime: APScheduler either fires the job late, or, past the job's grace
(its window), reports EVENT_JOB_MISSED; both lead to `_fire`, which runs what is still in
its window, records a planned run that fell out of it as skipped, and plans the next
occurrence. Every few minutes `reconcile` compares the planned jobs with what the database
says should be planned, and repairs every scope that differs: a lost job, or settings
changed by another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import weakref
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, cast

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
    JobExecutionEvent,
)
from apscheduler.job import Job
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import CursorResult, delete, select

from bot.clock import UTC, Clock
from bot.db import Database, upsert
from bot.db.models import JobRun
from bot.defaults import SCHEDULE_RECONCILE_EVERY
from bot.errors import UserError
from bot.scheduler.jobs import JobError, JobKind, PlannedRun, RunContext, RunResult, Scope

log = logging.getLogger(__name__)

JOB_RUN_RETENTION = dt.timedelta(days=35)
RECONCILE_JOB = "scheduler:reconcile"

ErrorRecorder = Callable[[int, str], Awaitable[None]]


class Scheduler:
    """Runs the registered kinds of job on time, once, from what the database says."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        record_error: ErrorRecorder | None = None,
        owns_guild: Callable[[int], bool] | None = None,
        reconcile_every: dt.timedelta = SCHEDULE_RECONCILE_EVERY,
        on_run: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.db = db
        self._on_run = on_run
        self.clock = clock
        self._record_error = record_error
        self._owns = owns_guild or (lambda _guild_id: True)
        self._kinds: dict[str, JobKind] = {}
        self._aps = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        )
        self._aps.add_listener(self._on_missed, EVENT_JOB_MISSED)
        self._reconcile_every = reconcile_every
        self._job_ids: dict[Scope, set[str]] = {}
        self._planned: dict[str, PlannedRun] = {}  # APScheduler job id -> the run it is for
        # Runs of one scope go one at a time (a late wake-up fires several of its jobs at once).
        self._locks: weakref.WeakValueDictionary[Scope, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._firing = 0
        # Runs under way, so that a stop can let them finish (see `stop`). A missed run's
        # catch-up counts too: `_on_missed`, added first, starts it before its miss is counted
        # as done.
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._aps.add_listener(
            self._count_runs,
            EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED,
        )

    def register(self, *kinds: JobKind) -> None:
        """Add kinds of job; runs due together go in registration order."""
        for kind in kinds:
            if kind.name in self._kinds:
                raise ValueError(f"job kind {kind.name!r} is registered twice")
            self._kinds[kind.name] = kind

    def unregister(self, *names: str) -> None:
        """Remove kinds of job (a feature unloaded) and their planned runs."""
        for name in names:
            self._kinds.pop(name, None)
        for ids in self._job_ids.values():
            for job_id in [i for i in ids if i.split(":", 1)[0] in names]:
                self._remove_job(job_id)
                ids.discard(job_id)

    def label(self, kind: str) -> str:
        """What a kind of job is called in messages for admins."""
        registered = self._kinds.get(kind)
        return registered.label if registered else kind

    # -- life cycle --

    async def start(self) -> None:
        """Run what fell due while down, schedule every next run, start APScheduler."""
        await self.catch_up()
        await self.rebuild()
        self._aps.add_job(
            self._reconcile_quietly,
            trigger=IntervalTrigger(seconds=self._reconcile_every.total_seconds(), timezone=UTC),
            id=RECONCILE_JOB,
            name=RECONCILE_JOB,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
        if not self._aps.running:
            self._aps.start()

    def shutdown(self) -> None:
        """Stop APScheduler without waiting for running jobs."""
        if self._aps.running:
            self._aps.shutdown(wait=False)
        for task in self._tasks:
            task.cancel()

    @property
    def busy(self) -> bool:
        """Whether runs are in flight (a wake-up being handled)."""
        return bool(self._firing or self._tasks)

    async def stop(self, timeout: float) -> bool:  # noqa: ASYNC109
        """Start no new runs, let those under way finish (at most `timeout` s), shut down.

        Return whether every run finished; `shutdown` cancels the ones that did not.
        """
        if self._aps.running:
            self._aps.pause()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout)
        finished = self._running == 0
        self.shutdown()
        return finished

    def _count_runs(self, event: JobEvent) -> None:
        self._count(1 if event.code == EVENT_JOB_SUBMITTED else -1)

    def _count(self, change: int) -> None:
        self._running = max(0, self._running + change)
        if self._running:
            self._idle.clear()
        else:
            self._idle.set()

    def jobs(self) -> list[Job]:
        """APScheduler's jobs for planned runs (for diagnostics and tests)."""
        return [job for job in self._aps.get_jobs() if job.id != RECONCILE_JOB]

    # -- schedule --

    async def rebuild(self) -> int:
        """Schedule every next run from the database; return how many jobs there are."""
        now = self.clock.now()
        async with self.db.write.begin() as s:
            await s.execute(delete(JobRun).where(JobRun.due_at < now - JOB_RUN_RETENTION))
        for ids in self._job_ids.values():
            for job_id in ids:
                self._remove_job(job_id)
        self._job_ids.clear()
        self._planned.clear()
        runs = await self._plan(None, now, due=False)
        for run in runs:
            self._add_job(run)
        return len(runs)

    async def reschedule(self, guild_id: int, user_id: int | None = None) -> None:
        """Apply a change of a server's schedules (or of one member's, with `user_id`).

        The latest past occurrence of the changed schedules is marked done, so a schedule
        set up in the middle of its window does not fire late at the next restart.
        """
        scope: Scope = (guild_id, user_id)
        async with self._lock(scope):
            now = self.clock.now()
            for run in await self._plan(scope, now, due=True):
                if self._kinds[run.kind].skip_past:
                    await self._claim(run, now)
            await self._replace_jobs(scope)

    async def upcoming(self, scope: Scope | None = None) -> list[PlannedRun]:
        """The next run of every schedule (of one scope, or all)."""
        return await self._plan(scope, self.clock.now(), due=False)

    # -- running --

    async def catch_up(self) -> list[RunResult]:
        """Run, late and once, what fell due while the bot was down and is still in its window."""
        return await self.run_due(self.clock.now())

    async def run_due(self, now: dt.datetime, scope: Scope | None = None) -> list[RunResult]:
        """Execute every run due at `now` (the same path APScheduler's jobs take)."""
        runs = await self._plan(scope, now, due=True)
        return [await self._execute(run, now) for run in runs]

    async def run_now(self, kind: str, guild_id: int) -> object:
        """Do a kind's job for one server at once (say, an admin's check-in now)."""
        job = self._kinds.get(kind)
        if job is None or job.run_now is None:
            raise ValueError(f"job kind {kind!r} cannot be run now")
        try:
            return await job.run_now(guild_id)
        except JobError as exc:
            await self._report(guild_id, str(exc))
            raise UserError(str(exc)) from None
        finally:
            await self._replace_jobs((guild_id, None))

    async def _fire(
        self, guild_id: int, user_id: int | None, planned: Iterable[PlannedRun] = ()
    ) -> None:
        """Run what is due in a scope, however late the wake-up, and plan its next runs.

        `planned`: the runs the wake-up was for; one that neither ran now nor before is past
        its window: it is skipped, and recorded.
        """
        scope: Scope = (guild_id, user_id)
        self._firing += 1
        try:
            await self._fire_locked(scope, planned)
        finally:
            self._firing -= 1

    async def _fire_locked(self, scope: Scope, planned: Iterable[PlannedRun]) -> None:
        guild_id, user_id = scope
        async with self._lock(scope):
            try:
                now = self.clock.now()
                results = await self.run_due(now, scope)
                attempted = {(r.key, r.due_at) for r in results}
                for run in planned:
                    if run.due_at <= now and (run.key, run.due_at) not in attempted:
                        await self._record_skip(run, now)
            except Exception:
                log.exception("Scheduled run failed for guild %s (member %s)", guild_id, user_id)
            finally:
                try:
                    await self._replace_jobs(scope)
                except Exception:
                    # The next reconciliation plans them again.
                    log.exception("Could not plan the next runs of %s", scope)

    def _on_missed(self, event: JobExecutionEvent) -> None:
        """APScheduler woke past a job's grace (its window): handle it like downtime."""
        run = self._planned.get(event.job_id)
        if run is None:
            return
        late = self.clock.now() - run.due_at
        log.warning("%s due %s was missed by %s: catching up", run.key, run.due_at, late)
        self._spawn(self._fire(run.guild_id, run.user_id, [run]))

    async def _record_skip(self, run: PlannedRun, now: dt.datetime) -> None:
        """A planned run that fell out of its window unrun: say so (unless it is moot)."""
        if await self._claimed(run):
            return  # another process ran it
        still = await self._plan(run.scope, run.due_at - dt.timedelta(microseconds=1), due=False)
        if not any((r.key, r.due_at) == (run.key, run.due_at) for r in still):
            return  # its schedule changed or its target is gone: nothing was missed
        window = run.window or dt.timedelta(0)
        text = (
            f"The {self.label(run.kind)} due {run.due_at:%Y-%m-%d %H:%M} UTC was skipped: the "
            f"bot was not running, or its machine was asleep, until {now:%Y-%m-%d %H:%M} UTC, "
            f"more than {_hours(window)} after it was due. The next one is planned."
        )
        log.warning("%s (job %s)", text, run.key)
        if run.user_id is None:
            await self._report(run.guild_id, text)

    async def _claimed(self, run: PlannedRun) -> bool:
        async with self.db.read() as s:
            found = await s.scalar(
                select(JobRun.job_key).where(JobRun.job_key == run.key, JobRun.due_at == run.due_at)
            )
        return found is not None

    # -- reconciliation --

    async def reconcile(self) -> int:
        """Make the planned jobs match the database; return how many scopes were repaired.

        A scope is repaired when a run the database calls for has no job (a job lost, a
        setting made by another process), when a job is for a run the database no longer
        calls for (a schedule changed or disabled elsewhere), or when a job is overdue.
        """
        now = self.clock.now()
        expected: dict[Scope, set[tuple[str, dt.datetime]]] = {}
        for run in await self._plan(None, now, due=False):
            expected.setdefault(run.scope, set()).add((run.key, run.due_at))
        planned: dict[Scope, set[tuple[str, dt.datetime]]] = {}
        overdue: dict[Scope, list[PlannedRun]] = {}
        for run in list(self._planned.values()):
            if self._aps.get_job(run.key) is not None:
                planned.setdefault(run.scope, set()).add((run.key, run.due_at))
            if run.due_at <= now:
                overdue.setdefault(run.scope, []).append(run)
        broken = [
            scope
            for scope in expected.keys() | planned.keys() | overdue.keys()
            if expected.get(scope, set()) != planned.get(scope, set())
        ]
        for scope in sorted(broken, key=lambda s: (s[0], s[1] or 0)):
            log.info("reconciling the schedule of guild %s (member %s)", *scope)
            await self._fire(scope[0], scope[1], overdue.get(scope, []))
        return len(broken)

    async def _reconcile_quietly(self) -> None:
        try:
            await self.reconcile()
        except Exception:
            log.exception("Reconciling the schedules with the database failed")

    def _lock(self, scope: Scope) -> asyncio.Lock:
        lock = self._locks.get(scope)
        if lock is None:
            lock = self._locks[scope] = asyncio.Lock()
        return lock

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        self._count(1)
        task.add_done_callback(self._spawned_done)

    def _spawned_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._count(-1)

    async def _execute(self, run: PlannedRun, now: dt.datetime) -> RunResult:
        if not await self._claim(run, now):
            return RunResult(run.kind, run.key, run.due_at, run.guild_id, "skipped")
        context = RunContext(now, lambda other: self._execute(other, now))
        try:
            await self._kinds[run.kind].run(run, context)
        except Exception as exc:
            if isinstance(exc, JobError):
                text = str(exc)
                log.warning("Job %s for guild %s failed: %s", run.key, run.guild_id, text)
            else:
                text = f"The {self.label(run.kind)} failed: unexpected {type(exc).__name__}"
                log.exception("Job %s for guild %s failed", run.key, run.guild_id)
            await self._report(run.guild_id, text)
            self._counted(run.kind, ok=False)
            return RunResult(run.kind, run.key, run.due_at, run.guild_id, "failed", text)
        self._counted(run.kind, ok=True)
        return RunResult(run.kind, run.key, run.due_at, run.guild_id, "done")

    def _counted(self, kind: str, *, ok: bool) -> None:
        if self._on_run is not None:
            self._on_run(kind, ok)

    async def _report(self, guild_id: int, text: str) -> None:
        if self._record_error is None:
            return
        try:
            await self._record_error(guild_id, text)
        except Exception:
            log.exception("Could not record the error of guild %s", guild_id)

    async def _claim(self, run: PlannedRun, now: dt.datetime) -> bool:
        async with self.db.write.begin() as s:
            result = await s.execute(
                upsert(s, JobRun)
                .values(job_key=run.key, due_at=run.due_at, claimed_at=now)
                .on_conflict_do_nothing()
            )
        return cast(CursorResult[Any], result).rowcount == 1

    # -- planning --

    async def _plan(self, scope: Scope | None, now: dt.datetime, *, due: bool) -> list[PlannedRun]:
        """The runs due at `now` (due=True) or the next run of each schedule, of this process."""
        order = {name: index for index, name in enumerate(self._kinds)}
        runs = [
            run
            for kind in self._kinds.values()
            for run in await kind.plan(scope, now, due)
            if self._owns(run.guild_id)
        ]
        runs.sort(key=lambda run: (order[run.kind], run.due_at, run.key))
        return runs

    async def _replace_jobs(self, scope: Scope) -> None:
        runs = await self._plan(scope, self.clock.now(), due=False)
        for job_id in self._job_ids.pop(scope, set()):
            self._remove_job(job_id)
        for run in runs:
            self._add_job(run)

    def _add_job(self, run: PlannedRun) -> None:
        grace = None if run.window is None else max(1, int(run.window.total_seconds()))
        self._aps.add_job(
            self._fire,
            trigger=DateTrigger(run_date=run.due_at, timezone=UTC),
            args=[run.guild_id, run.user_id, [run]],
            id=run.key,
            name=run.key,
            replace_existing=True,
            misfire_grace_time=grace,
            coalesce=True,
            max_instances=1,
        )
        self._job_ids.setdefault(run.scope, set()).add(run.key)
        self._planned[run.key] = run

    def _remove_job(self, job_id: str) -> None:
        self._planned.pop(job_id, None)
        if self._aps.get_job(job_id) is not None:
            self._aps.remove_job(job_id)


def _hours(window: dt.timedelta) -> str:
    hours = window.total_seconds() / 3600
    return f"{hours:g} h"
