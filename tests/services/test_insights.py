"""InsightsService and the counters behind it, against a real database."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.db import Database
from bot.roadmap import Roadmap
from bot.services import insights
from bot.services.assessments import AssessmentService
from bot.services.checkins import Answers, CheckinService
from bot.services.insights import InsightsService, median_of
from bot.services.members import MemberService
from bot.services.mydata import MyDataService
from bot.services.progress import ProgressService
from bot.weekly import WeeklyTime
from tests.support.fakes import FakeClock

G1, G2 = 1001, 2002
ALICE, BOB, CAROL = 11, 22, 33
T0 = dt.datetime(2025, 3, 3, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def progress(db: Database, roadmap: Roadmap, clock: FakeClock) -> ProgressService:
    return ProgressService(db, roadmap, clock)


@pytest.fixture
def svc(db: Database, roadmap: Roadmap, clock: FakeClock) -> InsightsService:
    return InsightsService(db, roadmap, clock)


async def counts_agree(db: Database, guild_id: int = G1) -> insights.Counts:
    """The kept counters equal a recount from the data; return them."""
    async with db.read() as s:
        stored = await s.run_sync(insights.stored_counts, guild_id)
        expected = await s.run_sync(insights.recount, guild_id)
    assert stored == expected
    return stored


async def test_members_per_level_and_per_checklist_item(
    svc: InsightsService, progress: ProgressService, roadmap: Roadmap, db: Database
):
    level_one = [i.id for i in roadmap.checklist(1)]
    for item_id in level_one:
        await progress.complete(G1, ALICE, item_id)
    await progress.complete(G1, BOB, level_one[0])
    await MemberService(db, progress.clock).remember(G1, CAROL, "carol")
    await progress.complete(G2, CAROL, level_one[0])  # another server
    overview = await svc.overview(G1)
    assert overview.members == 3 and overview.hidden == 0
    assert overview.per_level == (2, 1, 0, 0, 0, 0)
    level, shares = overview.checklists[0]
    assert level == 1
    assert {s.item.id: s.members for s in shares} == {
        level_one[0]: 2,
        **dict.fromkeys(level_one[1:], 1),
    }
    assert [s.members for s in overview.projects[:3]] == [1, 1, 0]
    await counts_agree(db)
    await counts_agree(db, G2)


async def test_inactive_members_counted_with_hidden_ones_left_out_of_the_list(
    svc: InsightsService,
    progress: ProgressService,
    roadmap: Roadmap,
    db: Database,
    clock: FakeClock,
):
    members = MemberService(db, clock)
    clock.set(T0)
    await progress.complete(G1, ALICE, roadmap.items[0].id, display_name="alice")
    await members.remember(G1, BOB, "bob")  # never did anything
    await progress.complete(G1, CAROL, roadmap.items[0].id, display_name="carol")
    await members.update_profile(G1, CAROL, hidden=True)
    clock.set(T0 + dt.timedelta(days=27))
    assert (await svc.overview(G1)).inactive == 0
    clock.set(T0 + dt.timedelta(days=28))
    overview = await svc.overview(G1)
    assert (overview.inactive, overview.inactive_shown) == (3, 2)
    assert overview.hidden == 1 and overview.members == 3
    page = await svc.inactive_page(G1)
    assert [e.user_id for e in page.entries] == [ALICE, BOB]
    assert (page.total, page.pages) == (2, 1)
    assert page.entries[0].last_active_on == T0.date()

    # A completion or a check-in answer makes a member active again; an undo does not.
    await progress.complete(G1, ALICE, roadmap.items[1].id)
    await progress.undo(G1, BOB, roadmap.items[0].id)
    checkins = CheckinService(db, clock)
    await checkins.configure(G1, channel_id=1, schedule=WeeklyTime(0, dt.time(9, 0)))
    await checkins.open_cycle(G1)
    await checkins.submit_answer(G1, BOB, "bob", Answers(learned="dbt", hours="2"))
    overview = await svc.overview(G1)
    assert (overview.inactive, overview.inactive_shown) == (1, 0)
    await counts_agree(db)


async def test_inactive_pages_in_order(svc: InsightsService, db: Database, clock: FakeClock):
    members = MemberService(db, clock)
    for n in range(23):
        clock.set(T0 + dt.timedelta(days=n))
        await members.remember(G1, 100 + n, f"m{n}")
    clock.set(T0 + dt.timedelta(days=60))
    first = await svc.inactive_page(G1, 0, per_page=10)
    last = await svc.inactive_page(G1, 9, per_page=10)  # past the end: the last page
    assert (first.pages, first.total, last.page) == (3, 23, 2)
    assert [e.user_id for e in first.entries] == list(range(100, 110))
    assert [e.user_id for e in last.entries] == [120, 121, 122]


async def test_median_time_to_each_level_follows_start_dates(
    svc: InsightsService,
    progress: ProgressService,
    roadmap: Roadmap,
    db: Database,
    clock: FakeClock,
):
    members = MemberService(db, clock)
    level_one = [i.id for i in roadmap.checklist(1)]
    clock.set(T0)
    for user, started in ((ALICE, dt.date(2024, 12, 1)), (BOB, dt.date(2024, 9, 15))):
        await members.update_profile(G1, user, started_on=started)
        for item_id in level_one:
            await progress.complete(G1, user, item_id)
    for item_id in level_one:  # Carol set no start: counted from when the bot first saw her
        await progress.complete(G1, CAROL, item_id)
    times = (await svc.overview(G1)).level_times
    assert times[0].level == 1 and times[0].roadmap_months == "0-6 months"
    assert (times[0].members, times[0].median_months) == (3, 3)  # 0, 3 and 5 months
    assert times[1].members == 0 and times[1].median_months is None
    await members.update_profile(G1, CAROL, started_on=dt.date(2024, 1, 3))
    assert (await svc.overview(G1)).level_times[0].median_months == 5  # 3, 5 and 13 months
    await counts_agree(db)


async def test_participation_of_the_last_cycles(
    svc: InsightsService, db: Database, clock: FakeClock
):
    checkins = CheckinService(db, clock)
    await checkins.configure(G1, channel_id=1, schedule=WeeklyTime(0, dt.time(9, 0)))
    for week in range(14):
        clock.set(T0 + dt.timedelta(weeks=week))
        cycle = await checkins.open_cycle(G1)
        assert cycle is not None
        for user in range(week % 4):
            await checkins.submit_answer(G1, 500 + user, None, Answers(learned="x", hours="1"))
        # an edit is not a second answer
        if week % 4:
            await checkins.submit_answer(G1, 500, None, Answers(learned="y", hours="2"))
        await checkins.close_cycle(cycle.id)
    participation = (await svc.overview(G1)).participation
    assert len(participation) == 12
    assert [p.answers for p in participation] == [(week % 4) for week in range(13, 1, -1)]
    assert participation[0].opens_at == T0 + dt.timedelta(weeks=13)
    await counts_agree(db)


async def test_deleting_a_members_data_keeps_every_counter_exact(
    svc: InsightsService,
    progress: ProgressService,
    roadmap: Roadmap,
    db: Database,
    clock: FakeClock,
):
    assessments = AssessmentService(db, roadmap, clock)
    checkins = CheckinService(db, clock)
    await checkins.configure(G1, channel_id=1, schedule=WeeklyTime(0, dt.time(9, 0)))
    await checkins.open_cycle(G1)
    for user in (ALICE, BOB):
        for item in roadmap.checklist(1):
            await progress.complete(G1, user, item.id)
        await assessments.save(G1, user, {m.id: 2 + user % 3 for m in roadmap.metrics[:4]})
        await checkins.submit_answer(G1, user, None, Answers(learned="x", hours="1"))
    await MemberService(db, clock).update_profile(G1, BOB, started_on=dt.date(2024, 6, 1))
    before = await svc.overview(G1)
    assert before.per_level[1] == 2 and before.participation[0].answers == 2
    deleted = await MyDataService(db, clock).delete(G1, BOB)
    assert deleted.assessments == 1
    after = await svc.overview(G1)
    assert after.members == 1 and after.per_level == (0, 1, 0, 0, 0, 0)
    assert after.participation[0].answers == 1
    assert {a.members for a in after.metrics[:4]} == {1}
    assert after.level_times[0].members == 1
    counts = await counts_agree(db)
    assert counts.items[roadmap.checklist(1)[0].id] == 1


async def test_rebuild_restores_counters_from_the_data(
    progress: ProgressService, roadmap: Roadmap, db: Database
):
    for item in roadmap.checklist(1):
        await progress.complete(G1, ALICE, item.id)
    expected = await counts_agree(db)
    async with db.write.begin() as s:
        await s.run_sync(lambda sync: insights.item_counted(sync, G1, ["l1.check.spark"], 5))
        await s.run_sync(lambda sync: insights.levels_changed(sync, G1, [(0, 3)]))
    async with db.write.begin() as s:
        assert await s.run_sync(insights.rebuild, G1) == expected
    assert await counts_agree(db) == expected


@pytest.mark.parametrize(
    ("histogram", "median"),
    [({}, None), ({4: 1}, 4), ({1: 1, 5: 1}, 1), ({0: 1, 3: 1, 5: 1}, 3), ({2: 10, 9: 3}, 2)],
)
def test_median_of(histogram: dict[int, int], median: int | None):
    assert median_of(histogram) == median
