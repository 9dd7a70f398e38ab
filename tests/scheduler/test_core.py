"""The scheduler knows no feature: a kind of job registered from outside runs once, on time."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from bot.clock import SystemClock
from bot.db import Database
from bot.scheduler import JobKind, PlannedRun, RunContext, Scheduler, Scope, weekly_run
from bot.weekly import WeeklyTime
from tests.support.fakes import FakeClock

UTC = dt.UTC
GUILD = 5
FRIDAY_NOON = dt.datetime(2024, 3, 8, 12, 0, tzinfo=UTC)


class Digest:
    """A feature the scheduler has never heard of: a Friday-noon digest for one server."""

    def __init__(self) -> None:
        self.schedule = WeeklyTime(4, dt.time(12), "UTC")
        self.sent: list[dt.datetime] = []

    def kind(self) -> JobKind:
        return JobKind("digest", "weekly digest", self.plan, self.run, skip_past=True)

    async def plan(self, scope: Scope | None, now: dt.datetime, due: bool) -> list[PlannedRun]:
        if scope is not None and scope != (GUILD, None):
            return []
        template = PlannedRun("digest", f"digest:{GUILD}", now, dt.timedelta(hours=6), GUILD)
        return weekly_run(template, self.schedule, now, due)

    async def run(self, run: PlannedRun, context: RunContext) -> None:
        self.sent.append(run.due_at)


async def test_a_registered_kind_runs_once_and_plans_its_next(db: Database) -> None:
    clock = FakeClock(FRIDAY_NOON - dt.timedelta(hours=1))
    digest = Digest()
    scheduler = Scheduler(db, clock)
    scheduler.register(digest.kind())
    assert await scheduler.rebuild() == 1
    (job,) = scheduler.jobs()
    assert (job.id, job.trigger.run_date, job.misfire_grace_time) == (
        f"digest:{GUILD}",
        FRIDAY_NOON,
        6 * 3600,
    )
    clock.set(FRIDAY_NOON)
    await scheduler._fire(GUILD, None)
    assert digest.sent == [FRIDAY_NOON]
    # Claimed once: a second process (or a restart) inside the window does not send again.
    other = Scheduler(db, clock)
    other.register(Digest().kind())
    assert [r.status for r in await other.catch_up()] == ["skipped"]
    (job,) = scheduler.jobs()
    assert job.trigger.run_date == FRIDAY_NOON + dt.timedelta(weeks=1)
    assert scheduler.label("digest") == "weekly digest"


async def test_a_kind_registered_twice_is_refused(db: Database) -> None:
    scheduler = Scheduler(db, FakeClock(FRIDAY_NOON))
    scheduler.register(Digest().kind())
    with pytest.raises(ValueError, match="registered twice"):
        scheduler.register(Digest().kind())


async def test_a_failing_kind_is_recorded_for_the_server(db: Database) -> None:
    errors: list[tuple[int, str]] = []

    async def record(guild_id: int, text: str) -> None:
        errors.append((guild_id, text))

    async def boom(run: PlannedRun, context: RunContext) -> None:
        raise RuntimeError("no")

    digest = Digest()
    scheduler = Scheduler(db, FakeClock(FRIDAY_NOON), record_error=record)
    scheduler.register(JobKind("digest", "weekly digest", digest.plan, boom))
    (result,) = await scheduler.catch_up()
    assert result.status == "failed"
    assert errors == [(GUILD, "The weekly digest failed: unexpected RuntimeError")]


class Slow:
    """A kind whose one run is due a moment from now (real time: APScheduler fires it)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.due = dt.datetime.now(UTC) + dt.timedelta(milliseconds=200)
        self.started = asyncio.Event()
        self.finished = False

    def kind(self) -> JobKind:
        return JobKind("slow", "slow job", self.plan, self.run)

    async def plan(self, scope: Scope | None, now: dt.datetime, due: bool) -> list[PlannedRun]:
        run = PlannedRun("slow", f"slow:{GUILD}", self.due, dt.timedelta(hours=1), GUILD)
        return [run] if (now >= self.due) == due else []

    async def run(self, run: PlannedRun, context: RunContext) -> None:
        self.started.set()
        await asyncio.sleep(self.seconds)
        self.finished = True


@pytest.mark.parametrize(("seconds", "finishes"), [(0.3, True), (60, False)])
async def test_a_stop_lets_a_run_under_way_finish_within_its_bound(
    db: Database, seconds: float, finishes: bool
) -> None:
    slow = Slow(seconds)
    scheduler = Scheduler(db, SystemClock())
    scheduler.register(slow.kind())
    await scheduler.start()
    try:
        await asyncio.wait_for(slow.started.wait(), 10)
        assert await scheduler.stop(timeout=2) is finishes
        assert slow.finished is finishes
    finally:
        scheduler.shutdown()
