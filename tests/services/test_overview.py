"""What `/progress` reads in one unit of work: progress, rank, streak, reviews, pictures."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.db import Database
from bot.roadmap import Roadmap
from bot.services.checkins import Answers
from bot.services.container import Services, build
from bot.weekly import WeeklyTime
from tests.support.fakes import FakeClock

G = 1001
ALICE, BOB = 11, 22
MONDAY = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def services(db: Database, roadmap: Roadmap, clock: FakeClock) -> Services:
    clock.set(MONDAY)
    return build(db, roadmap, clock)


def first_items(roadmap: Roadmap, n: int) -> list[str]:
    return [i.id for i in roadmap.trackable if roadmap.linked_checklist(i) is None][:n]


async def test_a_member_the_bot_has_not_seen(services: Services) -> None:
    overview = await services.overview.progress_overview(G, ALICE)
    assert overview.progress.completed == 0 and overview.rank is None
    assert (overview.streak, overview.pending, overview.cards) == (0, (), True)


async def test_rank_and_streak_are_the_ones_the_board_and_history_show(
    services: Services, roadmap: Roadmap, clock: FakeClock
) -> None:
    for item in first_items(roadmap, 3):
        await services.progress.complete(G, ALICE, item)
    await services.progress.complete(G, BOB, first_items(roadmap, 1)[0])
    before = await services.overview.progress_overview(G, BOB)
    assert (before.rank, before.streak) == (2, 0)  # a server without check-ins: no streak

    await services.checkins.configure(
        G, channel_id=1, schedule=WeeklyTime(0, dt.time(10, 0), "UTC")
    )
    for week in range(2):
        clock.set(MONDAY + dt.timedelta(weeks=week, hours=1, minutes=30))
        cycle = await services.checkins.open_cycle(G)
        await services.checkins.submit_answer(G, BOB, None, Answers(learned="x", hours="2"))
        clock.set(clock.now() + dt.timedelta(days=3))
        await services.checkins.close_cycle(cycle.id)
    streak = await services.checkins.streak(G, BOB)
    assert streak == 2
    after = await services.overview.progress_overview(G, BOB)
    assert (after.rank, after.streak) == (2, streak)
    assert (await services.overview.progress_overview(G, ALICE)).streak == 0  # never answered


async def test_submissions_awaiting_review_are_listed(services: Services, roadmap: Roadmap) -> None:
    await services.reviews.configure(G, categories={"checklist": True}, add_role=500)
    item = roadmap.checklist(1)[0].id
    await services.reviews.complete_or_submit(G, ALICE, item, evidence="a link")
    await services.progress.complete(G, BOB, first_items(roadmap, 1)[0])
    pending = (await services.overview.progress_overview(G, ALICE)).pending
    assert [p.item.id for p in pending] == [item]
    assert (await services.overview.progress_overview(G, BOB)).pending == ()


async def test_pictures_follow_the_server_and_whoever_asks(
    services: Services, roadmap: Roadmap
) -> None:
    await services.progress.complete(G, ALICE, first_items(roadmap, 1)[0])
    await services.members.update_profile(G, ALICE, cards=False)
    assert (await services.overview.progress_overview(G, ALICE)).cards is False
    # Bob looking at Alice's progress gets his own choice (the default: pictures).
    assert (await services.overview.progress_overview(G, ALICE, viewer=BOB)).cards is True
    await services.guilds.set_cards(G, False)
    assert (await services.overview.progress_overview(G, ALICE, viewer=BOB)).cards is False
    await services.members.update_profile(G, ALICE, cards=True)
    assert (await services.overview.progress_overview(G, ALICE)).cards is False
