"""Time helpers and the scheduler: DST, input parsing, once-only runs, catch-up, failures."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest
from sqlalchemy import func, select

from bot.db import Database
from bot.db.models import CheckinCycle, GuildSettings, JobRun
from bot.errors import UserError
from bot.roadmap import Roadmap
from bot.scheduling import (
    KIND_CLOSE,
    KIND_NUDGE,
    KIND_OPEN,
    FakeClock,
    Scheduler,
    format_when,
    next_weekly,
    parse_hhmm,
    parse_weekday,
    previous_weekly,
    timezone_choices,
    validate_timezone,
)
from bot.services.checkins import Answers, CheckinService
from bot.services.reminders import ReminderService
from tests.support.fakes import FakePublisher, forbidden

UTC = dt.UTC
GUILD = 111
OTHER = 222
CHANNEL = 5001
# Monday 4 March 2024, 18:00 in Berlin (CET, UTC+1).
DUE = dt.datetime(2024, 3, 4, 17, 0, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- weekly times across DST ----------------------------------------------------------------


def test_berlin_0230_across_spring_forward() -> None:
    # Sundays 02:30 Europe/Berlin; on 31 March 2024 02:00-03:00 does not exist.
    before = next_weekly(utc(2024, 3, 20, 12, 0), 6, "02:30", "Europe/Berlin")
    gap = next_weekly(before, 6, "02:30", "Europe/Berlin")
    after = next_weekly(gap, 6, "02:30", "Europe/Berlin")
    assert before == utc(2024, 3, 24, 1, 30)  # 02:30 CET
    assert gap == utc(2024, 3, 31, 1, 30)  # moved forward by the gap: 03:30 CEST
    assert after == utc(2024, 4, 7, 0, 30)  # 02:30 CEST
    assert previous_weekly(utc(2024, 4, 1), 6, "02:30", "Europe/Berlin") == gap


def test_berlin_ambiguous_time_takes_first_occurrence() -> None:
    # 27 October 2024: 02:30 happens twice in Berlin; the first is 00:30 UTC (CEST).
    assert next_weekly(utc(2024, 10, 26), 6, "02:30", "Europe/Berlin") == utc(2024, 10, 27, 0, 30)


def test_new_york_0900_across_november_change() -> None:
    first = next_weekly(utc(2024, 10, 25), 0, "09:00", "America/New_York")
    second = next_weekly(first, 0, "09:00", "America/New_York")
    assert first == utc(2024, 10, 28, 13, 0)  # EDT, UTC-4
    assert second == utc(2024, 11, 4, 14, 0)  # EST, UTC-5
    # The ambiguous 01:30 of 3 November 2024 (a Sunday) is its first, EDT, occurrence.
    assert next_weekly(utc(2024, 11, 2), 6, "01:30", "America/New_York") == utc(2024, 11, 3, 5, 30)


def test_next_is_strictly_after_previous_is_inclusive() -> None:
    assert previous_weekly(DUE, 0, "18:00", "Europe/Berlin") == DUE
    assert next_weekly(DUE, 0, "18:00", "Europe/Berlin") == DUE + dt.timedelta(weeks=1)
    assert next_weekly(DUE - dt.timedelta(seconds=1), 0, "18:00", "Europe/Berlin") == DUE
    assert previous_weekly(DUE - dt.timedelta(seconds=1), 0, "18:00", "Europe/Berlin") == (
        DUE - dt.timedelta(weeks=1)
    )
    with pytest.raises(ValueError):
        next_weekly(dt.datetime(2024, 3, 4), 0, "18:00", "UTC")  # noqa: DTZ001


def test_format_when_uses_the_timezone() -> None:
    assert format_when(DUE, "Europe/Berlin") == "Mon 4 Mar 2024 18:00 (Europe/Berlin)"


# --- admin input ------------------------------------------------------------------------------


def test_parse_hhmm() -> None:
    assert parse_hhmm("18:30") == "18:30"
    assert parse_hhmm(" 9:05 ") == "09:05"
    for bad in ("24:00", "18:60", "6pm", "", "18"):
        with pytest.raises(UserError, match=r"HH:MM, for example 18:30"):
            parse_hhmm(bad)


def test_parse_weekday() -> None:
    assert parse_weekday("monday") == 0
    assert parse_weekday("Mon") == 0
    assert parse_weekday("0") == 0
    assert parse_weekday("sun") == 6
    assert parse_weekday(3) == 3
    for bad in ("7", "funday", "m"):
        with pytest.raises(UserError, match="0 \\(Monday\\) to 6 \\(Sunday\\)"):
            parse_weekday(bad)


def test_validate_timezone() -> None:
    assert validate_timezone("Europe/Berlin") == "Europe/Berlin"
    assert validate_timezone("europe/berlin") == "Europe/Berlin"
    with pytest.raises(UserError) as info:
        validate_timezone("Mars/Olympus")
    assert info.value.message == (
        "Unknown timezone 'Mars/Olympus': pick one from the list, e.g. Europe/Berlin"
    )


def test_timezone_choices() -> None:
    assert "Europe/Berlin" in timezone_choices("berl")
    assert timezone_choices("new_york")[0] == "America/New_York"
    assert "America/New_York" in timezone_choices("new york")
    assert len(timezone_choices("")) == 25
    assert len(timezone_choices("a", limit=100)) == 25
    assert timezone_choices("zzzz-none") == []
    started = time.perf_counter()
    for _ in range(200):
        timezone_choices("america")
    assert time.perf_counter() - started < 0.5


# --- the scheduler ------------------------------------------------------------------------


async def configure(db: Database, guild_id: int = GUILD, open_hours: int = 48) -> None:
    await CheckinService(db).configure(
        guild_id,
        channel_id=CHANNEL + guild_id,
        weekday="monday",
        time="18:00",
        timezone="Europe/Berlin",
        open_hours=open_hours,
    )


def make(
    db: Database, roadmap: Roadmap, clock: FakeClock, publisher: FakePublisher | None = None
) -> tuple[Scheduler, FakePublisher]:
    publisher = publisher or FakePublisher()
    return Scheduler(db, publisher, roadmap, clock=clock), publisher


async def test_open_runs_once_at_its_due_time(db: Database, roadmap: Roadmap) -> None:
    await configure(db)
    clock = FakeClock(DUE - dt.timedelta(minutes=1))
    scheduler, publisher = make(db, roadmap, clock)
    assert await scheduler.run_due(clock.now()) == []
    results = await scheduler.run_due(clock.advance(dt.timedelta(minutes=1)))
    assert [(r.kind, r.status) for r in results] == [(KIND_OPEN, "done")]
    assert len(publisher.prompts) == 1
    guild_id, channel_id, cycle = publisher.prompts[0]
    assert (guild_id, channel_id) == (GUILD, CHANNEL + GUILD)
    assert (cycle.opens_at, cycle.closes_at) == (DUE, DUE + dt.timedelta(hours=48))
    stored = await CheckinService(db).cycle(cycle.id)
    assert stored is not None and stored.message_id == publisher.next_message_id
    # Later in the window: already claimed.
    results = await scheduler.run_due(clock.advance(dt.timedelta(hours=1)))
    assert [(r.kind, r.status) for r in results] == [(KIND_OPEN, "skipped")]
    assert len(publisher.prompts) == 1


async def test_two_schedulers_on_one_database_post_once(
    db: Database, db_url: str, roadmap: Roadmap
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
    await CheckinService(db).submit_answer(
        GUILD, 7, "Ada", Answers(learned="dbt", hours="3"), DUE + dt.timedelta(hours=1)
    )
    # Down for four days: the close is late but runs once; the next open is not due yet.
    clock.set(DUE + dt.timedelta(days=4))
    restarted, restarted_pub = make(db, roadmap, clock)
    results = await restarted.catch_up()
    assert [(r.kind, r.status) for r in results] == [(KIND_CLOSE, "done")]
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
    assert [(r.kind, r.status) for r in results] == [(KIND_CLOSE, "done"), (KIND_OPEN, "done")]
    assert len(publisher.summaries) == 1 and len(publisher.prompts) == 2


async def test_check_in_now_closes_before_the_scheduled_open(
    db: Database, roadmap: Roadmap
) -> None:
    await configure(db)
    clock = FakeClock(DUE - dt.timedelta(hours=3))
    scheduler, publisher = make(db, roadmap, clock)
    manual = await scheduler.open_now(GUILD)
    assert manual.opens_at == clock.now()
    with pytest.raises(UserError, match="already open; it closes"):
        await scheduler.open_now(GUILD)
    await scheduler.run_due(clock.set(DUE))
    assert [summary.cycle.id for _, _, summary in publisher.summaries] == [manual.id]
    assert len(publisher.prompts) == 2
    current = await CheckinService(db).open_cycle_for(GUILD, DUE)
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
    checkins = CheckinService(db)
    reminders = ReminderService(db, roadmap)
    clock = FakeClock(DUE)
    scheduler, publisher = make(db, roadmap, clock)
    await scheduler.run_due(DUE)
    # Members 1-5 answer the first week; 6 never answers.
    for user_id in range(1, 7):
        await reminders.subscribe(GUILD, user_id, display_name=f"m{user_id}", now=DUE)
    for user_id in range(1, 6):
        await checkins.submit_answer(GUILD, user_id, None, Answers(hours="1"), clock.now())
    await scheduler.run_due(clock.set(DUE + dt.timedelta(hours=48)))
    # Second week: 1 answers this week, 2 is away, 3 unsubscribed, 4 has closed DMs.
    week2 = DUE + dt.timedelta(weeks=1)
    await scheduler.run_due(clock.set(week2))
    await checkins.submit_answer(GUILD, 1, None, Answers(hours="2"), week2)
    await checkins.set_away(GUILD, 2, dt.date(2024, 3, 20), week2.date())
    await reminders.unsubscribe(GUILD, 3)
    publisher.closed_dms.add(4)
    results = await scheduler.run_due(clock.set(week2 + dt.timedelta(hours=36)))
    assert [(r.kind, r.status) for r in results if r.status != "skipped"] == [(KIND_NUDGE, "done")]
    assert [user_id for _, user_id, _ in publisher.nudges] == [5]
    assert (await reminders.status(GUILD, 4, clock.now())).dm_failed
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
    await scheduler.reschedule_guild(GUILD)
    assert [r.status for r in await scheduler.catch_up()] == ["skipped"]
    assert publisher.prompts == []
    upcoming = await scheduler.upcoming((GUILD, None))
    assert [(r.kind, r.due_at) for r in upcoming] == [(KIND_OPEN, DUE + dt.timedelta(weeks=1))]


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
