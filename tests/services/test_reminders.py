"""Reminder service and reminder runs: rotation, week numbers, subscriptions, DM failures."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import insert, select

from bot.db import Database
from bot.db.models import Completion, Member
from bot.errors import UserError
from bot.roadmap import Roadmap
from bot.services.checkins import Answers, CheckinService
from bot.services.mydata import MyDataService
from bot.services.reminders import DM_JOB, POST_JOB, ReminderService, next_principle
from bot.weekly import WeeklyTime
from tests.support.fakes import FakeClock, FakePublisher, scheduler_with_jobs

UTC = dt.UTC
GUILD = 77
CHANNEL = 1234
# Wednesday 6 March 2024, 12:00 UTC.
NOON = dt.datetime(2024, 3, 6, 12, 0, tzinfo=UTC)
DAY = dt.timedelta(days=1)
WEEK = dt.timedelta(weeks=1)


@pytest.fixture
def service(db: Database, roadmap: Roadmap, clock: FakeClock) -> ReminderService:
    return ReminderService(db, roadmap, clock)


async def test_configure_and_disable(service: ReminderService) -> None:
    settings = await service.configure(GUILD, channel_id=CHANNEL, weekday=2, time=dt.time(12))
    assert settings.schedule == WeeklyTime(2, dt.time(12), "UTC")
    settings = await service.configure(
        GUILD, channel_id=CHANNEL, weekday=2, time=dt.time(13), timezone="asia/tokyo"
    )
    assert settings.own_timezone == "Asia/Tokyo"
    assert settings.schedule == WeeklyTime(2, dt.time(13), "Asia/Tokyo")
    with pytest.raises(UserError, match="Unknown timezone"):
        await service.configure(
            GUILD, channel_id=CHANNEL, weekday=2, time=dt.time(13), timezone="Mars/Olympus"
        )
    await service.disable(GUILD)
    stored = await service.settings(GUILD)
    assert stored is not None and not stored.enabled and stored.channel_id == CHANNEL


def test_next_principle_rotates(roadmap: Roadmap) -> None:
    numbers = [p.number for p in roadmap.principles]
    assert next_principle(roadmap.principles, None).number == min(numbers)
    assert next_principle(roadmap.principles, max(numbers)).number == min(numbers)


async def test_channel_reminder_rotates_without_repeats(
    db: Database, service: ReminderService, roadmap: Roadmap, clock: FakeClock
) -> None:
    clock.set(NOON)
    assert await service.channel_reminder(GUILD) is None  # not set up
    await service.configure(GUILD, channel_id=CHANNEL, weekday=2, time=dt.time(12))
    seen = []
    for week in range(12):
        clock.set(NOON + week * WEEK)
        reminder = await service.channel_reminder(GUILD)
        assert reminder is not None and reminder.channel_id == CHANNEL
        seen.append(reminder.principle.number)
    assert all(a != b for a, b in itertools.pairwise(seen))
    assert set(seen) == {p.number for p in roadmap.principles}


async def test_week_in_numbers(db: Database, service: ReminderService, clock: FakeClock) -> None:
    await service.configure(GUILD, channel_id=CHANNEL, weekday=2, time=dt.time(12))
    checkins = CheckinService(db, clock)
    await checkins.configure(GUILD, channel_id=9, schedule=WeeklyTime(0, dt.time(9), "UTC"))
    clock.set(NOON - 2 * DAY)
    await checkins.open_cycle(GUILD)
    for user_id in (1, 2):
        clock.set(NOON - DAY)
        await checkins.submit_answer(GUILD, user_id, None, Answers(hours="1"))
    async with db.write.begin() as s:
        await s.execute(
            insert(Completion),
            [
                {"guild_id": GUILD, "user_id": 2, "item_id": "a", "completed_at": NOON - DAY},
                {"guild_id": GUILD, "user_id": 3, "item_id": "a", "completed_at": NOON - DAY},
                {"guild_id": GUILD, "user_id": 3, "item_id": "b", "completed_at": NOON - 8 * DAY},
                {"guild_id": 1, "user_id": 4, "item_id": "a", "completed_at": NOON - DAY},
            ],
        )
    clock.set(NOON)
    reminder = await service.channel_reminder(GUILD)
    assert reminder is not None
    assert reminder.week.milestones_completed == 2
    assert reminder.week.active_members == 3
    assert reminder.week.checkin_answers == 2


async def test_subscribe_defaults_and_status(
    db: Database, service: ReminderService, clock: FakeClock
) -> None:
    clock.set(NOON)
    status = await service.subscribe(GUILD, 5)
    assert status.subscribed and status.schedule == WeeklyTime(0, dt.time(9), "UTC")
    assert status.next_at == dt.datetime(2024, 3, 11, 9, 0, tzinfo=UTC)
    clock.set(NOON)
    status = await service.subscribe(GUILD, 5, weekday=4, time=dt.time(18, 30))
    assert status.next_at == dt.datetime(2024, 3, 8, 18, 30, tzinfo=UTC)
    clock.set(NOON)
    status = await service.subscribe(GUILD, 5)  # keeps the chosen day and time
    assert (status.schedule.weekday, status.schedule.hhmm) == (4, "18:30")
    assert await service.unsubscribe(GUILD, 5)
    assert not await service.unsubscribe(GUILD, 5)
    clock.set(NOON)
    status = await service.status(GUILD, 5)
    assert not status.subscribed and status.next_at is None


async def test_member_reminder_lists_next_checklist_items(
    db: Database, service: ReminderService, roadmap: Roadmap, clock: FakeClock
) -> None:
    clock.set(NOON)
    await service.subscribe(GUILD, 5)
    level_one = roadmap.checklist(1)
    async with db.write.begin() as s:
        await s.execute(
            insert(Completion),
            [
                {"guild_id": GUILD, "user_id": 5, "item_id": item.id, "completed_at": NOON}
                for item in level_one[:-1]
            ],
        )
    clock.set(NOON)
    reminder = await service.member_reminder(GUILD, 5)
    assert reminder is not None
    assert reminder.level == 1 and reminder.level_title == roadmap.level_title(1)
    assert [item.id for item in reminder.items] == [level_one[-1].id]
    assert reminder.principle in roadmap.principles
    async with db.write.begin() as s:
        await s.execute(
            insert(Completion),
            [{"guild_id": GUILD, "user_id": 5, "item_id": level_one[-1].id, "completed_at": NOON}],
        )
    clock.set(NOON)
    reminder = await service.member_reminder(GUILD, 5)
    assert reminder is not None and reminder.level == 2
    assert [item.id for item in reminder.items] == [item.id for item in roadmap.checklist(2)[:3]]
    clock.set(NOON)
    assert await service.member_reminder(GUILD, 6) is None  # not subscribed


async def test_dm_failure_is_told_once_and_stops_dms(
    db: Database, service: ReminderService, roadmap: Roadmap, clock: FakeClock
) -> None:
    clock.set(NOON)
    await service.subscribe(GUILD, 5)
    assert not await service.take_dm_failure_notice(GUILD, 5)
    clock.set(NOON)
    await service.record_dm_failure(GUILD, 5)
    clock.set(NOON)
    assert await service.member_reminder(GUILD, 5) is None
    clock.set(NOON)
    assert (await service.status(GUILD, 5)).dm_failed
    assert await service.take_dm_failure_notice(GUILD, 5)
    assert not await service.take_dm_failure_notice(GUILD, 5)
    # Subscribing again clears the failure: DMs are tried again.
    clock.set(NOON)
    status = await service.subscribe(GUILD, 5)
    assert not status.dm_failed and status.next_at is not None
    clock.set(NOON)
    assert await service.member_reminder(GUILD, 5) is not None


async def test_scheduled_dms_and_channel_post(
    db: Database, service: ReminderService, roadmap: Roadmap, clock: FakeClock
) -> None:
    monday = dt.datetime(2024, 3, 11, 9, 0, tzinfo=UTC)
    await service.configure(GUILD, channel_id=CHANNEL, weekday=0, time=dt.time(10))
    clock.set(NOON)
    await service.subscribe(GUILD, 5)  # Monday 09:00 UTC
    clock.set(NOON)
    await service.subscribe(GUILD, 6)
    async with db.write.begin() as s:
        await s.execute(
            insert(Completion),
            [{"guild_id": GUILD, "user_id": 9, "item_id": "x", "completed_at": NOON}],
        )
    publisher = FakePublisher(closed_dms={6})
    clock.set(monday)
    scheduler = scheduler_with_jobs(db, roadmap, clock, publisher)
    results = await scheduler.run_due(monday)
    assert sorted((r.kind, r.status) for r in results) == [
        (DM_JOB, "done"),
        (DM_JOB, "done"),
    ]
    assert [user_id for _, user_id, _ in publisher.dms] == [5]
    # The channel post an hour later tells member 6, once, that their DMs are closed.
    results = await scheduler.run_due(clock.advance(dt.timedelta(hours=1)))
    assert [(r.kind, r.status) for r in results if r.status == "done"] == [(POST_JOB, "done")]
    (_, channel_id, post) = publisher.reminders[0]
    assert channel_id == CHANNEL and post.dm_failed_user_ids == (6,)
    assert not await service.take_dm_failure_notice(GUILD, 6)
    # Next week: member 6 gets no DM; the channel post does not repeat the notice or principle.
    clock.set(monday + WEEK + dt.timedelta(hours=1))
    await scheduler.catch_up()
    assert [user_id for _, user_id, _ in publisher.dms] == [5, 5]
    assert publisher.reminders[1][2].dm_failed_user_ids == ()
    assert publisher.reminders[0][2].principle != publisher.reminders[1][2].principle
    # A reminder missed by more than 24 h is skipped.
    clock.set(monday + 2 * WEEK + dt.timedelta(hours=25))
    assert [r for r in await scheduler.catch_up() if r.status == "done"] == []
    assert len(publisher.reminders) == 2 and len(publisher.dms) == 2


async def test_member_reminder_uses_member_timezone(
    db: Database, service: ReminderService, roadmap: Roadmap, clock: FakeClock
) -> None:
    clock.set(NOON)
    await service.subscribe(GUILD, 5, weekday=0, time=dt.time(9))
    from sqlalchemy import update

    from bot.db.models import Member

    async with db.write.begin() as s:
        await s.execute(update(Member).where(Member.user_id == 5).values(timezone="Asia/Tokyo"))
    clock.set(NOON)
    status = await service.status(GUILD, 5)
    assert status.schedule.timezone == "Asia/Tokyo"
    assert status.next_at == dt.datetime(2024, 3, 11, 0, 0, tzinfo=UTC)  # 09:00 JST
    scheduler = scheduler_with_jobs(db, roadmap, clock, FakePublisher())
    upcoming = await scheduler.upcoming((GUILD, 5))
    assert [(r.kind, r.due_at) for r in upcoming] == [(DM_JOB, status.next_at)]


async def test_the_untold_dm_failures_kept_in_memory_agree_with_the_database(
    db: Database, roadmap: Roadmap, clock: FakeClock
) -> None:
    """After every operation that records, tells or clears a DM failure, the notice the
    after-command check gives is the one the database holds (it reads no row itself)."""
    service = ReminderService(db, roadmap, clock)
    clock.set(NOON)
    for user in (1, 2, 3):
        await service.subscribe(GUILD, user)

    async def untold_in_db() -> set[int]:
        async with db.read() as s:
            rows = await s.execute(
                select(Member.user_id).where(
                    Member.guild_id == GUILD,
                    Member.dm_failed_at.is_not(None),
                    Member.dm_failure_told.is_(False),
                )
            )
            return {user for (user,) in rows}

    async def agree() -> None:
        expected = await untold_in_db()
        # A second service reads the database afresh: both must tell the same members.
        fresh = ReminderService(db, roadmap, clock)
        for user in (1, 2, 3):
            told = await service.take_dm_failure_notice(GUILD, user)
            assert told == (user in expected)
            assert not await fresh.take_dm_failure_notice(GUILD, user)  # told just now
        assert await untold_in_db() == set()

    assert not await service.take_dm_failure_notice(GUILD, 1)  # loads the (empty) set
    await service.record_dm_failure(GUILD, 1)
    await service.record_dm_failure(GUILD, 2)
    await agree()
    # Told another way (the channel post lists them), then subscribing again clears it.
    await service.subscribe(GUILD, 1)
    await service.record_dm_failure(GUILD, 1)
    await service.record_dm_failure(GUILD, 3)
    await service.configure(GUILD, channel_id=CHANNEL, weekday=2, time=dt.time(12))
    post = await service.channel_reminder(GUILD)
    assert post is not None and set(post.dm_failed_user_ids) == {1, 3}
    await agree()
    await service.subscribe(GUILD, 3)
    await service.record_dm_failure(GUILD, 3)
    await MyDataService(db, clock).delete(GUILD, 3)
    await agree()
    await service.subscribe(GUILD, 2)
    await service.record_dm_failure(GUILD, 2)
    await service.subscribe(GUILD, 2)  # cleared before anyone was told
    await agree()
