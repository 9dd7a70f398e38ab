"""No chain of scheduled runs can die: late wake-ups, missed runs and reconciliation.

APScheduler runs on the real clock and the scheduler's planning on a FakeClock; the fake
clock starts at the real time (to the minute), so both agree until a test jumps it. A jump
plus `oversleep` is what a machine that slept looks like to APScheduler: its jobs are due,
late, all at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from bot.db import Database
from bot.roadmap import Roadmap
from bot.scheduler import Scheduler
from bot.services.checkins import CLOSE_JOB, NUDGE_JOB, OPEN_JOB, CheckinService
from bot.services.guilds import GuildService
from bot.services.reminders import POST_JOB, ReminderService
from bot.weekly import WeeklyTime
from tests.support.fakes import FakeClock, FakePublisher, oversleep, scheduler_with_jobs, settled

UTC = dt.UTC
GUILD = 111
CHANNEL = 5001
HOUR = dt.timedelta(hours=1)
WEEK = dt.timedelta(weeks=1)


def weekly_at(when: dt.datetime) -> WeeklyTime:
    return WeeklyTime(when.weekday(), when.time(), "UTC")


class Setup:
    def __init__(self, db: Database, roadmap: Roadmap) -> None:
        self.t0 = dt.datetime.now(UTC).replace(second=0, microsecond=0)
        self.clock = FakeClock(self.t0)
        self.publisher = FakePublisher()
        self.db, self.roadmap = db, roadmap
        self.scheduler = scheduler_with_jobs(db, roadmap, self.clock, self.publisher)

    async def due(self) -> dict[str, dt.datetime]:
        return {j.id.split(":")[0]: j.trigger.run_date for j in self.scheduler.jobs()}


def next_due(scheduler: Scheduler) -> dt.datetime:
    return min(job.trigger.run_date for job in scheduler.jobs())


@pytest.fixture
async def setup(db: Database, roadmap: Roadmap) -> AsyncIterator[Setup]:
    s = Setup(db, roadmap)
    yield s
    s.scheduler.shutdown()


async def test_a_week_asleep_runs_late_what_its_window_allows_and_plans_the_next(
    setup: Setup, db: Database, roadmap: Roadmap
) -> None:
    t0, clock, publisher, scheduler = setup.t0, setup.clock, setup.publisher, setup.scheduler
    wake = t0 + WEEK
    # Due during the sleep: a check-in opening 2 h before the wake-up (48 h window: runs
    # late) and a reminder post 32 h before (24 h window: skipped).
    open_at, post_at = wake - 2 * HOUR, wake - 32 * HOUR
    await CheckinService(db, clock).configure(
        GUILD, channel_id=CHANNEL, schedule=weekly_at(open_at), open_hours=48
    )
    await ReminderService(db, roadmap, clock).configure(
        GUILD, channel_id=CHANNEL, weekday=post_at.weekday(), time=post_at.time(), timezone="UTC"
    )
    await scheduler.reschedule(GUILD)  # as /config does: what is already past is not due
    await scheduler.start()
    assert await setup.due() == {OPEN_JOB: open_at, POST_JOB: post_at}

    clock.set(wake)
    assert sorted(oversleep(scheduler, clock)) == [f"{OPEN_JOB}:{GUILD}", f"{POST_JOB}:{GUILD}"]
    await settled(scheduler)
    ((_, _, cycle),) = publisher.prompts
    assert cycle.opens_at == open_at and cycle.closes_at == open_at + 48 * HOUR
    problem = (await GuildService(db, clock).config(GUILD)).last_error or ""
    assert problem.startswith(f"The weekly reminder due {post_at:%Y-%m-%d %H:%M} UTC was skipped")
    assert publisher.reminders == []
    # The next occurrences are planned: the cycle's nudge and close, next week's post and
    # opening.
    assert await setup.due() == {
        NUDGE_JOB: cycle.closes_at - 12 * HOUR,
        CLOSE_JOB: cycle.closes_at,
        POST_JOB: post_at + WEEK,
        OPEN_JOB: open_at + WEEK,
    }

    # The following week runs as usual, each at its time.
    for kind in (NUDGE_JOB, CLOSE_JOB, POST_JOB, OPEN_JOB):
        due = (await setup.due())[kind]
        assert due == next_due(scheduler), kind
        clock.set(due)
        assert [w.split(":")[0] for w in oversleep(scheduler, clock)] == [kind]
        await settled(scheduler)
    stored = await CheckinService(db, clock).cycle(cycle.id)
    assert stored is not None and stored.nudged_at is not None and stored.closed_at is not None
    assert (len(publisher.summaries), len(publisher.reminders)) == (1, 1)
    assert [c.opens_at for _, _, c in publisher.prompts] == [open_at, open_at + WEEK]
    assert await setup.due() == {
        NUDGE_JOB: open_at + WEEK + 36 * HOUR,
        CLOSE_JOB: open_at + WEEK + 48 * HOUR,
        POST_JOB: post_at + 2 * WEEK,
        OPEN_JOB: open_at + 2 * WEEK,
    }


async def test_reconciliation_repairs_a_lost_job_and_runs_it_if_still_due(
    setup: Setup, db: Database
) -> None:
    t0, clock, publisher, scheduler = setup.t0, setup.clock, setup.publisher, setup.scheduler
    open_at = t0 + HOUR
    await CheckinService(db, clock).configure(
        GUILD, channel_id=CHANNEL, schedule=weekly_at(open_at)
    )
    await scheduler.reschedule(GUILD)
    await scheduler.start()
    assert await scheduler.reconcile() == 0  # nothing to repair
    # The job is lost (say, an exception in APScheduler's hands): nothing would open it.
    scheduler._aps.remove_job(f"{OPEN_JOB}:{GUILD}")
    assert scheduler.jobs() == []
    assert await scheduler.reconcile() == 1
    assert await setup.due() == {OPEN_JOB: open_at}
    # Lost again, and found only once it is due: it runs late, once, inside its window.
    scheduler._aps.remove_job(f"{OPEN_JOB}:{GUILD}")
    clock.set(open_at + 3 * HOUR)
    assert await scheduler.reconcile() == 1
    ((_, _, cycle),) = publisher.prompts
    assert cycle.opens_at == open_at
    assert OPEN_JOB in await setup.due() and CLOSE_JOB in await setup.due()
    assert await scheduler.reconcile() == 0
    assert len(publisher.prompts) == 1


async def test_reconciliation_picks_up_settings_changed_by_another_process(
    setup: Setup, db: Database, db_url: str, roadmap: Roadmap
) -> None:
    t0, clock, scheduler = setup.t0, setup.clock, setup.scheduler
    await scheduler.start()
    assert scheduler.jobs() == []
    other = Database(db_url)  # another process: same database, no word to this scheduler
    try:
        reminders = ReminderService(other, roadmap, clock)
        post_at = t0 + 2 * HOUR
        await reminders.configure(
            GUILD,
            channel_id=CHANNEL,
            weekday=post_at.weekday(),
            time=post_at.time(),
            timezone="UTC",
        )
        assert await scheduler.reconcile() == 1
        assert await setup.due() == {POST_JOB: post_at}
        moved = t0 + 5 * HOUR
        await reminders.configure(
            GUILD, channel_id=CHANNEL, weekday=moved.weekday(), time=moved.time(), timezone="UTC"
        )
        assert await scheduler.reconcile() == 1
        assert await setup.due() == {POST_JOB: moved}
        await reminders.disable(GUILD)
        assert await scheduler.reconcile() == 1
        assert scheduler.jobs() == []
    finally:
        await other.dispose()
    assert setup.publisher.reminders == []


async def test_the_reconciliation_runs_every_few_minutes(setup: Setup) -> None:
    await setup.scheduler.start()
    job = setup.scheduler._aps.get_job("scheduler:reconcile")
    assert job is not None and job.trigger.interval == dt.timedelta(minutes=5)
    assert job.misfire_grace_time is None  # a late one still runs
