"""Check-in service: settings, cycles, answers, summary, streaks, away, nudge targets."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert

from bot.db import Database
from bot.db.models import CheckinAnswer, Completion, LevelAnnouncement, Member
from bot.errors import UserError
from bot.services.checkins import (
    MAX_TEXT,
    STREAK_PAGE,
    Answers,
    CheckinService,
    parse_hours,
)
from bot.services.reminders import ReminderService
from bot.weekly import WeeklyTime
from tests.support.fakes import FakeClock

UTC = dt.UTC
GUILD = 42
CHANNEL = 900
DUE = dt.datetime(2024, 3, 4, 17, 0, tzinfo=UTC)  # Monday 18:00 Berlin
HOUR = dt.timedelta(hours=1)
WEEK = dt.timedelta(weeks=1)


@pytest.fixture
async def service(db: Database, clock: FakeClock) -> CheckinService:
    service = CheckinService(db, clock)
    await service.configure(
        GUILD, channel_id=CHANNEL, schedule=WeeklyTime(0, dt.time(18, 0), "Europe/Berlin")
    )
    return service


async def test_configure_validates(db: Database, clock: FakeClock) -> None:
    service = CheckinService(db, clock)
    with pytest.raises(UserError, match="from 1 to 168"):
        await service.configure(
            GUILD, channel_id=1, schedule=WeeklyTime(0, dt.time(18, 0)), open_hours=0
        )
    settings = await service.configure(
        GUILD, channel_id=1, schedule=WeeklyTime(4, dt.time(7, 30), "UTC"), open_hours=24
    )
    assert settings.schedule == WeeklyTime(4, dt.time(7, 30), "UTC")
    assert (settings.schedule.hhmm, settings.timezone) == ("07:30", "UTC")
    assert await service.settings(GUILD) == settings
    await service.disable(GUILD)
    disabled = await service.settings(GUILD)
    assert disabled is not None and not disabled.enabled


def noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=UTC)


def test_parse_hours() -> None:
    assert parse_hours("3") == 3.0
    assert parse_hours("2.5") == 2.5
    assert parse_hours("2,5") == 2.5
    assert parse_hours("") == 0.0
    assert parse_hours(4) == 4.0
    for bad in ("abc", "-1", "169", "nan", "inf"):
        with pytest.raises(UserError, match=r"number from 0 to 168, for example 3 or 2\.5"):
            parse_hours(bad)


async def test_answer_without_cycle_says_what_to_do(db: Database, clock: FakeClock) -> None:
    service = CheckinService(db, clock)
    with pytest.raises(UserError, match="an admin can set one up with `/config checkins`"):
        clock.set(DUE)
        await service.submit_answer(GUILD, 1, "Ada", Answers())
    await service.configure(
        GUILD, channel_id=CHANNEL, schedule=WeeklyTime(0, dt.time(18, 0), "Europe/Berlin")
    )
    with pytest.raises(UserError, match=r"next one opens Mon 4 Mar 2024 18:00 \(Europe/Berlin\)"):
        clock.set(DUE - HOUR)
        await service.submit_answer(GUILD, 1, "Ada", Answers())


async def test_open_answer_resubmit_close_summary(
    db: Database, service: CheckinService, clock: FakeClock
) -> None:
    clock.set(DUE)
    cycle = await service.open_cycle(GUILD, opens_at=DUE)
    assert cycle is not None and cycle.closes_at == DUE + dt.timedelta(hours=48)
    clock.set(DUE)
    assert await service.open_cycle(GUILD, opens_at=DUE) is None  # second process
    clock.set(DUE + HOUR)
    first = await service.submit_answer(GUILD, 1, "Ada", Answers(learned="Spark", hours="2,5"))
    assert not first.replaced and first.hours == 2.5
    clock.set(DUE + 2 * HOUR)
    again = await service.submit_answer(
        GUILD, 1, "Ada L.", Answers(learned="Spark joins", hours="4")
    )
    assert again.replaced and again.cycle.id == cycle.id
    clock.set(DUE + HOUR)
    await service.submit_answer(
        GUILD, 2, "B\x00ob", Answers(built="a\x00 DAG\r\n\tand tests\x1b", hours="\x001")
    )
    bob = await service.current_answer(GUILD, 2)
    assert bob is not None and (bob.built, bob.hours) == ("a DAG\n\tand tests", 1.0)
    clock.set(DUE + 3 * HOUR)
    current = await service.current_answer(GUILD, 1)
    assert current is not None and current.learned == "Spark joins" and current.hours == 4.0
    clock.set(DUE + 3 * HOUR)
    status = await service.status(GUILD)
    assert status.cycle == cycle and status.answered == 2
    assert status.closes_at == cycle.closes_at and status.next_opens_at == DUE + WEEK
    # Progress in the window (and one outside it that must not count).
    async with db.write.begin() as s:
        await s.execute(
            insert(Completion),
            [
                {"guild_id": GUILD, "user_id": 1, "item_id": "a", "completed_at": DUE + HOUR},
                {"guild_id": GUILD, "user_id": 2, "item_id": "b", "completed_at": DUE + 5 * HOUR},
                {"guild_id": GUILD, "user_id": 2, "item_id": "c", "completed_at": DUE - HOUR},
                {"guild_id": 7, "user_id": 2, "item_id": "d", "completed_at": DUE + HOUR},
            ],
        )
        s.add(LevelAnnouncement(guild_id=GUILD, user_id=2, level=1, reached_at=DUE + 5 * HOUR))
    clock.set(DUE + 48 * HOUR)
    summary = await service.close_cycle(cycle.id)
    assert summary is not None
    assert summary.answered == 2
    assert summary.total_hours == 5.0 and summary.average_hours == 2.5
    assert summary.milestones_completed == 2
    assert [(u.user_id, u.display_name, u.level) for u in summary.level_ups] == [(2, "Bob", 1)]
    assert summary.level_up_count == 1
    assert [(e.user_id, e.display_name, e.streak) for e in summary.top_streaks] == [
        (1, "Ada L.", 1),
        (2, "Bob", 1),
    ]
    assert summary.cycle.closed_at == DUE + 48 * HOUR
    clock.set(DUE + 49 * HOUR)
    assert await service.close_cycle(cycle.id) is None
    with pytest.raises(UserError, match="No check-in is open"):
        clock.set(DUE + 49 * HOUR)
        await service.submit_answer(GUILD, 1, "Ada", Answers())
    history = await service.history(GUILD, 1)
    assert [(h.cycle_id, h.learned) for h in history] == [(cycle.id, "Spark joins")]
    assert await service.history_count(GUILD, 1) == 1


async def test_text_is_truncated(service: CheckinService, clock: FakeClock) -> None:
    clock.set(DUE)
    await service.open_cycle(GUILD, opens_at=DUE)
    clock.set(DUE)
    await service.submit_answer(GUILD, 1, "Ada", Answers(learned="x" * 5000))
    (entry,) = await service.history(GUILD, 1)
    assert len(entry.learned) == MAX_TEXT


async def test_check_in_now_refuses_while_open(
    db: Database, service: CheckinService, clock: FakeClock
) -> None:
    clock.set(DUE)
    opened = await service.open_cycle(GUILD)
    assert opened is not None and opened.opens_at == DUE
    with pytest.raises(UserError, match=r"already open; it closes Wed 6 Mar 2024 18:00"):
        clock.set(DUE + HOUR)
        await service.open_cycle(GUILD)
    with pytest.raises(UserError, match="/config checkins"):
        clock.set(DUE)
        await CheckinService(db, clock).open_cycle(GUILD + 1)


async def _weeks(service: CheckinService, count: int) -> list[int]:
    ids = []
    for week in range(count):
        opens = DUE + week * WEEK
        service.clock.set(opens)
        cycle = await service.open_cycle(GUILD, opens_at=opens)
        assert cycle is not None
        ids.append(cycle.id)
    return ids


async def _answer(service: CheckinService, user_id: int, week: int) -> None:
    service.clock.set(DUE + week * WEEK + HOUR)
    await service.submit_answer(GUILD, user_id, f"u{user_id}", Answers())


async def _close_all(service: CheckinService, ids: list[int]) -> None:
    for cycle_id in ids:
        cycle = await service.cycle(cycle_id)
        assert cycle is not None
        service.clock.set(cycle.closes_at)
        await service.close_cycle(cycle_id)


async def test_streak_counts_back_and_skips_open_unanswered(
    service: CheckinService, clock: FakeClock
) -> None:
    ids = await _weeks(service, 1)
    await _answer(service, 1, 0)
    await _close_all(service, ids)
    more = [await _weeks_from(service, week) for week in (1, 2, 3)]
    for week in (1, 2):
        await _answer(service, 1, week)
    await _close_all(service, more[:2])
    now = DUE + 3 * WEEK + HOUR
    # Weeks 0-2 answered; week 3 open and unanswered does not break it.
    clock.set(now)
    assert await service.streak(GUILD, 1) == 3
    await _answer(service, 1, 3)
    clock.set(now)
    assert await service.streak(GUILD, 1) == 4
    clock.set(now)
    assert await service.streak(GUILD, 2) == 0


async def _weeks_from(service: CheckinService, week: int) -> int:
    opens = DUE + week * WEEK
    service.clock.set(opens)
    cycle = await service.open_cycle(GUILD, opens_at=opens)
    assert cycle is not None
    return cycle.id


async def test_streak_kept_across_away_period(service: CheckinService, clock: FakeClock) -> None:
    ids = [await _weeks_from(service, week) for week in range(7)]
    # Answers weeks 0-2, away for weeks 3-4, back for weeks 5-6. A gap in week 0's past
    # (none here) would still break it; a miss after the away period breaks it too.
    for week in (0, 1, 2):
        await _answer(service, 1, week)
    today = (DUE + 2 * WEEK + 2 * HOUR).date()
    service.clock.set(noon(today))
    await service.set_away(GUILD, 1, (DUE + 4 * WEEK).date() + dt.timedelta(days=1))
    for week in (5, 6):
        await _answer(service, 1, week)
    await _close_all(service, ids)
    after = DUE + 8 * WEEK
    clock.set(after)
    assert await service.streak(GUILD, 1) == 5
    # The summary of week 6 agrees with the single-member walk.
    clock.set(after)
    summary = await service.summary(ids[6])
    assert summary is not None
    assert [(e.user_id, e.streak) for e in summary.top_streaks] == [(1, 5)]
    # Member 2 answered the same weeks without being away: the gap breaks the streak.
    for week in (0, 1, 2, 5, 6):
        await _answer_late(service, 2, ids[week])
    clock.set(after)
    assert await service.streak(GUILD, 2) == 2


async def _answer_late(service: CheckinService, user_id: int, cycle_id: int) -> None:
    async with service.db.write.begin() as s:
        s.add(CheckinAnswer(cycle_id=cycle_id, user_id=user_id, guild_id=GUILD, hours=1.0))


async def test_set_away_validates(service: CheckinService) -> None:
    today = dt.date(2024, 3, 4)
    with pytest.raises(UserError, match="after today"):
        service.clock.set(noon(today))
        await service.set_away(GUILD, 1, today)
    with pytest.raises(UserError, match="at most a year"):
        service.clock.set(noon(today))
        await service.set_away(GUILD, 1, today + dt.timedelta(days=400))
    service.clock.set(noon(today))
    assert await service.set_away(GUILD, 1, today + dt.timedelta(days=3)) == dt.date(2024, 3, 7)


async def test_nudge_targets(db: Database, service: CheckinService, clock: FakeClock) -> None:
    from bot.roadmap import load_roadmap

    reminders = ReminderService(db, load_roadmap())
    ids = [await _weeks_from(service, week) for week in range(6)]
    for user_id in range(1, 8):
        clock.set(DUE)
        await reminders.subscribe(GUILD, user_id)
    # 1: answered week 4 -> target. 2: answered week 0 only (five cycles back) -> no.
    # 3: answered week 1, already answered week 5 -> no. 4: away -> no.
    # 5: unsubscribed -> no. 6: DM failure -> no. 7: never answered -> no.
    await _answer_late(service, 1, ids[4])
    await _answer_late(service, 2, ids[0])
    await _answer_late(service, 3, ids[1])
    await _answer_late(service, 3, ids[5])
    await _answer_late(service, 4, ids[3])
    await _answer_late(service, 5, ids[3])
    await _answer_late(service, 6, ids[3])
    now = DUE + 5 * WEEK + 36 * HOUR
    service.clock.set(noon(now.date()))
    await service.set_away(GUILD, 4, now.date() + dt.timedelta(days=2))
    await reminders.unsubscribe(GUILD, 5)
    clock.set(now)
    await reminders.record_dm_failure(GUILD, 6)
    await _close_all(service, ids[:5])
    clock.set(now)
    assert await service.nudge_targets(ids[5]) == (1,)
    clock.set(now)
    assert await service.nudge_targets(ids[5]) == ()  # marked nudged


async def test_close_summarises_ten_thousand_answers(
    db: Database, service: CheckinService, clock: FakeClock
) -> None:
    clock.set(DUE)
    cycle = await service.open_cycle(GUILD, opens_at=DUE)
    assert cycle is not None
    async with db.write.begin() as s:
        await s.execute(
            insert(Member),
            [{"guild_id": GUILD, "user_id": n, "display_name": f"m{n}"} for n in range(10_000)],
        )
        await s.execute(
            insert(CheckinAnswer),
            [
                {"cycle_id": cycle.id, "user_id": n, "guild_id": GUILD, "hours": n % 5}
                for n in range(10_000)
            ],
        )
        await s.execute(
            insert(Completion),
            [
                {"guild_id": GUILD, "user_id": n, "item_id": "x", "completed_at": DUE + HOUR}
                for n in range(3_000)
            ],
        )
    # Speed is measured in benchmarks/bench_checkins.py; this checks the numbers at scale.
    clock.set(DUE + 48 * HOUR)
    summary = await service.close_cycle(cycle.id)
    assert summary is not None
    assert summary.answered == 10_000 and summary.total_hours == 20_000.0
    assert summary.milestones_completed == 3_000
    assert len(summary.top_streaks) == 10


async def test_every_away_period_is_remembered(service: CheckinService, clock: FakeClock) -> None:
    ids = [await _weeks_from(service, week) for week in range(8)]
    # Away in week 1, answers weeks 0, 2-4, away again in week 5, answers 6-7.
    for week in (0, 2, 3, 4, 6, 7):
        await _answer(service, 1, week)
    first = (DUE + 1 * WEEK).date()
    service.clock.set(noon(first - dt.timedelta(days=1)))
    await service.set_away(GUILD, 1, first + dt.timedelta(days=3))
    second = (DUE + 5 * WEEK).date()
    service.clock.set(noon(second - dt.timedelta(days=1)))
    await service.set_away(GUILD, 1, second + dt.timedelta(days=3))
    await _close_all(service, ids)
    clock.set(DUE + 9 * WEEK)
    assert await service.streak(GUILD, 1) == 6


async def test_misses_before_going_away_still_break_the_streak(
    service: CheckinService, clock: FakeClock
) -> None:
    ids = [await _weeks_from(service, week) for week in range(6)]
    for week in (0, 1, 4, 5):
        await _answer(service, 1, week)
    # Missed weeks 2 and 3, then declared an absence that only covers week 3.
    start = (DUE + 3 * WEEK).date()
    service.clock.set(noon(start))
    await service.set_away(GUILD, 1, start + dt.timedelta(days=3))
    await _close_all(service, ids)
    clock.set(DUE + 7 * WEEK)
    assert await service.streak(GUILD, 1) == 2


async def test_participation_and_hours_for_the_charts(
    service: CheckinService, clock: FakeClock
) -> None:
    cycles = []
    for week in range(14):
        opens = DUE + week * WEEK
        clock.set(opens)
        cycle = await service.open_cycle(GUILD, opens_at=opens)
        assert cycle is not None
        cycles.append(cycle)
        clock.set(opens + HOUR)
        for user in range(week % 4):  # 0, 1, 2, 3, 0, 1, ... members answer
            await service.submit_answer(GUILD, user, None, Answers(hours=str(week + user / 2)))
        clock.set(opens + 48 * HOUR)
        await service.close_cycle(cycle.id)

    last12 = await service.participation(GUILD)
    assert [c.answered for c in last12] == [week % 4 for week in range(2, 14)]
    # Days in the server's timezone: 18:00 in Berlin on Mondays.
    assert last12[0].opens_on == (DUE + 2 * WEEK).date() and last12[0].cycle_id == cycles[2].id
    upto = await service.participation(GUILD, until=cycles[5].opens_at, cycles=3)
    assert [(c.cycle_id, c.answered) for c in upto] == [
        (cycles[3].id, 3),
        (cycles[4].id, 0),
        (cycles[5].id, 1),
    ]
    assert await service.participation(99) == ()

    hours = await service.hours(GUILD, 1)  # member 1 answers in weeks 2, 3, 6, 7, 10, 11
    assert [h.hours for h in hours] == [2.5, 3.5, 6.5, 7.5, 10.5, 11.5]
    assert hours[0].opens_on == (DUE + 2 * WEEK).date()
    assert [h.hours for h in await service.hours(GUILD, 1, weeks=2)] == [10.5, 11.5]
    assert await service.hours(GUILD, 77) == ()


async def test_a_long_streak_is_walked_back_page_by_page(
    service: CheckinService, clock: FakeClock
) -> None:
    # More weeks than one page of cycles (the streak reads them newest first, a page a time).
    weeks = STREAK_PAGE * 2 + 3
    ids = []
    for week in range(weeks):
        ids.append(await _weeks_from(service, week))
        if week != 4:  # member 1 missed week 4 only
            await _answer(service, 1, week)
        await _answer(service, 2, week)
        await _close_all(service, ids[-1:])
    clock.set(DUE + weeks * WEEK)
    assert await service.streak(GUILD, 2) == weeks
    assert await service.streak(GUILD, 1) == weeks - 5
