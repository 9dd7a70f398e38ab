"""The scheduler with the check-in and reminder jobs: once-only runs, catch-up, failures."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select

from bot.db import Database
from bot.db.models import CheckinCycle, GuildSettings, JobRun
from bot.errors import UserError
from bot.roadmap import Roadmap
from bot.scheduler import Scheduler
from bot.services.checkins import CLOSE_JOB, NUDGE_JOB, OPEN_JOB, Answers, CheckinService
from bot.services.reminders import ReminderService
from bot.weekly import WeeklyTime
from tests.support.fakes import FakeClock, FakePublisher, forbidden, scheduler_with_jobs

UTC = dt.UTC
GUILD = 111
OTHER = 222
CHANNEL = 5001
# Monday 4 March 2024, 18:00 in Berlin (CET, UTC+1).
DUE = dt.datetime(2024, 3, 4, 17, 0, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- the scheduler ------------------------------------------------------------------------


async def configure(db: Database, guild_id: int = GUILD, open_hours: int = 48) -> None:
    await CheckinService(db).configure(
        guild_id,
        channel_id=CHANNEL + guild_id,
        schedule=WeeklyTime(0, dt.time(18), "Europe/Berlin"),
        open_hours=open_hours,
    )


def make(
    db: Database, roadmap: Roadmap, clock: FakeClock, publisher: FakePublisher | None = None
) -> tuple[Scheduler, FakePublisher]:
    publisher = publisher or FakePublisher()
    return scheduler_with_jobs(db, roadmap, clock, publisher), publisher


async def test_open_runs_once_at_its_due_time(db: Database, roadmap: Roadmap) -> None:
    await configure(db)
    clock = FakeClock(DUE - dt.timedelta(minutes=1))
    scheduler, publisher = make(db, roadmap, clock)
    assert await scheduler.run_due(clock.now()) == []
    results = await scheduler.run_due(clock.advance(dt.timedelta(minutes=1)))
    assert [(r.kind, r.status) for r in results] == [(OPEN_JOB, "done")]
    assert len(publisher.prompts) == 1
    guild_id, channel_id, cycle = publisher.prompts[0]
    assert (guild_id, channel_id) == (GUILD, CHANNEL + GUILD)
    assert (cycle.opens_at, cycle.closes_at) == (DUE, DUE + dt.timedelta(hours=48))
    stored = await CheckinService(db, clock).cycle(cycle.id)
    assert stored is not None and stored.message_id == publisher.next_message_id
    # Later in the window: already claimed.
    results = await scheduler.run_due(clock.advance(dt.timedelta(hours=1)))
    assert [(r.kind, r.status) for r in results] == [(OPEN_JOB, "skipped")]
    assert len(publisher.prompts) == 1


async def test_two_schedulers_on_one_database_post_once(
    db: Database, db_url: str, roadmap: Roadmap, clock: FakeClock
) -> None:
    await configure(db)
    other_db = Database(db_url)
    try:
        clock = FakeClock(DUE)
        first, first_pub = make(db, roadmap, clock)
        second, second_pub = make(other_db, roadmap, clock)
        await asyncio.gather(first.run_due(DUE), second.run_due(DUE), second.catch_up())
        await asyncio.gather(first.catch_up(), second.run_due(DUE + dt.timedelta(seconds=5)))
        assert len(first_pub.prompts) + len(second_pub.prompts) == 1
        async with db.read() as s:
            assert await s.scalar(select(func.count()).select_from(CheckinCycle)) == 1
    finally:
        await other_db.dispose()


async def test_restart_across_due_time_posts_once(db: Database, roadmap: Roadmap) -> None:
    await configure(db)
    clock = FakeClock(DUE - dt.timedelta(hours=1))
    before, before_pub = make(db, roadmap, clock)
    assert await before.catch_up() == []
    before.shutdown()
    # Down across the due time; back two hours later.
    clock.set(DUE + dt.timedelta(hours=2))
    after, after_pub = make(db, roadmap, clock)
    await after.catch_up()
    assert len(after_pub.prompts) == 1
    # And another restart does not post again.
    again, again_pub = make(db, roadmap, clock)
    await again.catch_up()
    assert before_pub.prompts == [] and again_pub.prompts == []


async def test_open_missed_beyond_its_window_is_skipped(db: Database, roadmap: Roadmap) -> None:
    await configure(db, open_hours=2)
    clock = FakeClock(DUE + dt.timedelta(hours=2, seconds=1))
    scheduler, publisher = make(db, roadmap, clock)
    assert await scheduler.catch_up() == []
    assert publisher.prompts == []
    # Inside a 48 h window it would still run late.
    await configure(db, open_hours=48)
    await scheduler.catch_up()
    assert len(publisher.prompts) == 1


async def test_overdue_close_always_runs_and_posts_summary(db: Database, roadmap: Roadmap) -> None:
    await configure(db)
    clock = FakeClock(DUE)
    scheduler, publisher = make(db, roadmap, clock)
    await scheduler.run_due(DUE)
    cycle = publisher.prompts[0][2]
    clock.set(DUE + dt.timedelta(hours=1))
    await CheckinService(db, clock).submit_answer(
        GUILD, 7, "Ada", Answers(learned="dbt", hours="3")
    )
    # Down for four days: the close is late but runs once; the next open is not due yet.
    clock.set(DUE + dt.timedelta(days=4))
    restarted, restarted_pub = make(db, roadmap, clock)
    results = await restarted.catch_up()
    assert [(r.kind, r.status) for r in results] == [(CLOSE_JOB, "done")]
    assert len(restarted_pub.summaries) == 1
    summary = restarted_pub.summaries[0][2]
    assert summary.cycle.id == cycle.id and summary.answered == 1
    assert await restarted.catch_up() == []
    assert len(restarted_pub.summaries) == 1


async def test_close_then_next_week_open_in_order(db: Database, roadmap: Roadmap) -> None:
    await configure(db, open_hours=168)
    clock = FakeClock(DUE)
    scheduler, publisher = make(db, roadmap, clock)
    await scheduler.run_due(DUE)
    results = await scheduler.run_due(clock.advance(dt.timedelta(weeks=1)))
    assert [(r.kind, r.status) for r in results] == [(CLOSE_JOB, "done"), (OPEN_JOB, "done")]
    assert len(publisher.summaries) == 1 and len(publisher.prompts) == 2


async def test_check_in_now_closes_before_the_scheduled_open(
    db: Database, roadmap: Roadmap
) -> None:
    await configure(db)
    clock = FakeClock(DUE - dt.timedelta(hours=3))
    scheduler, publisher = make(db, roadmap, clock)
    manual = await scheduler.run_now(OPEN_JOB, GUILD)
    assert manual.opens_at == clock.now()
    with pytest.raises(UserError, match="already open; it closes"):
        await scheduler.run_now(OPEN_JOB, GUILD)
    await scheduler.run_due(clock.set(DUE))
    assert [summary.cycle.id for _, _, summary in publisher.summaries] == [manual.id]
    assert len(publisher.prompts) == 2
    clock.set(DUE)
    current = await CheckinService(db, clock).open_cycle_for(GUILD)
    assert current is not None and current.opens_at == DUE


async def test_failing_guild_does_not_stop_others(db: Database, roadmap: Roadmap) -> None:
    await configure(db, GUILD)
    await configure(db, OTHER)
    clock = FakeClock(DUE)
    publisher = FakePublisher(fail_guilds={GUILD: forbidden()})
    scheduler, _ = make(db, roadmap, clock, publisher)
    results = await scheduler.run_due(DUE)
    assert sorted((r.guild_id, r.status) for r in results) == [(GUILD, "failed"), (OTHER, "done")]
    assert [guild_id for guild_id, _, _ in publisher.prompts] == [OTHER]
    async with db.read() as s:
        failed = await s.get(GuildSettings, GUILD)
        fine = await s.get(GuildSettings, OTHER)
    assert failed is not None and fine is not None
    assert failed.last_error == (
        f"Could not post the check-in prompt in <#{CHANNEL + GUILD}>: Missing Permissions (403)"
    )
    assert failed.last_error_at == DUE
    assert fine.last_error is None


async def test_unexpected_error_is_recorded_with_its_type(db: Database, roadmap: Roadmap) -> None:
    await configure(db)
    publisher = FakePublisher(fail_guilds={GUILD: RuntimeError("boom")})
    scheduler, _ = make(db, roadmap, FakeClock(DUE), publisher)
    await scheduler.run_due(DUE)
    async with db.read() as s:
        settings = await s.get(GuildSettings, GUILD)
    assert settings is not None and settings.last_error is not None
    assert settings.last_error.endswith("unexpected RuntimeError")


async def test_nudges_go_to_the_right_members(db: Database, roadmap: Roadmap) -> None:
    await configure(db)
    clock = FakeClock(DUE)
    checkins = CheckinService(db, clock)
    reminders = ReminderService(db, roadmap, clock)
    scheduler, publisher = make(db, roadmap, clock)
    await scheduler.run_due(DUE)
    # Members 1-5 answer the first week; 6 never answers.
    for user_id in range(1, 7):
        clock.set(DUE)
        await reminders.subscribe(GUILD, user_id, display_name=f"m{user_id}")
    for user_id in range(1, 6):
        await checkins.submit_answer(GUILD, user_id, None, Answers(hours="1"))
    await scheduler.run_due(clock.set(DUE + dt.timedelta(hours=48)))
    # Second week: 1 answers this week, 2 is away, 3 unsubscribed, 4 has closed DMs.
    week2 = DUE + dt.timedelta(weeks=1)
    await scheduler.run_due(clock.set(week2))
    clock.set(week2)
    await checkins.submit_answer(GUILD, 1, None, Answers(hours="2"))
    await checkins.set_away(GUILD, 2, dt.date(2024, 3, 20))
    await reminders.unsubscribe(GUILD, 3)
    publisher.closed_dms.add(4)
    results = await scheduler.run_due(clock.set(week2 + dt.timedelta(hours=36)))
    assert [(r.kind, r.status) for r in results if r.status != "skipped"] == [(NUDGE_JOB, "done")]
    assert [user_id for _, user_id, _ in publisher.nudges] == [5]
    assert (await reminders.status(GUILD, 4)).dm_failed
    # Once only.
    later = await scheduler.run_due(clock.advance(dt.timedelta(hours=1)))
    assert all(r.status == "skipped" for r in later)
    assert len(publisher.nudges) == 1


async def test_fire_runs_due_work_and_schedules_the_next(db: Database, roadmap: Roadmap) -> None:
    await configure(db)
    clock = FakeClock(DUE - dt.timedelta(days=1))
    scheduler, publisher = make(db, roadmap, clock)
    assert await scheduler.rebuild() == 1
    (job,) = scheduler.jobs()
    assert job.id == f"checkin-open:{GUILD}"
    assert job.trigger.run_date == DUE
    assert job.misfire_grace_time == 48 * 3600
    assert job.coalesce is True and job.max_instances == 1
    clock.set(DUE)
    await scheduler._fire(GUILD, None)
    assert len(publisher.prompts) == 1
    cycle_id = publisher.prompts[0][2].id
    jobs = {job.id: job for job in scheduler.jobs()}
    assert set(jobs) == {
        f"checkin-open:{GUILD}",
        f"checkin-close:{cycle_id}",
        f"checkin-nudge:{cycle_id}",
    }
    assert jobs[f"checkin-open:{GUILD}"].trigger.run_date == DUE + dt.timedelta(weeks=1)
    assert jobs[f"checkin-close:{cycle_id}"].misfire_grace_time is None
    assert jobs[f"checkin-nudge:{cycle_id}"].trigger.run_date == DUE + dt.timedelta(hours=36)


async def test_reschedule_does_not_fire_a_schedule_set_mid_window(
    db: Database, roadmap: Roadmap
) -> None:
    clock = FakeClock(DUE + dt.timedelta(hours=1))
    scheduler, publisher = make(db, roadmap, clock)
    await configure(db)
    await scheduler.reschedule(GUILD)
    assert [r.status for r in await scheduler.catch_up()] == ["skipped"]
    assert publisher.prompts == []
    upcoming = await scheduler.upcoming((GUILD, None))
    assert [(r.kind, r.due_at) for r in upcoming] == [(OPEN_JOB, DUE + dt.timedelta(weeks=1))]


async def test_aps_scheduler_starts_and_stops(db: Database, roadmap: Roadmap) -> None:
    await configure(db)
    clock = FakeClock(DUE - dt.timedelta(days=1))
    scheduler, publisher = make(db, roadmap, clock)
    await scheduler.start()
    try:
        assert [job.id for job in scheduler.jobs()] == [f"checkin-open:{GUILD}"]
    finally:
        scheduler.shutdown()
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(JobRun)) == 0
    assert publisher.prompts == []
