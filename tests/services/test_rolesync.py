"""Role sync runs: levels recomputed a batch at a time, progress kept, resumed, one at a time."""

from __future__ import annotations

import math

import pytest

from bot.db import Database
from bot.roadmap import Roadmap
from bot.services import insights
from bot.services.guilds import GuildService
from bot.services.progress import ProgressService
from bot.services.rolesync import BATCH, DONE, FAILED, RoleSyncService, Tally
from tests.support.fakes import FakeClock

GUILD, OTHER = 31, 32
ADMIN = 9


@pytest.fixture
def service(db: Database, roadmap: Roadmap, clock: FakeClock) -> RoleSyncService:
    return RoleSyncService(db, roadmap, clock)


async def seed(db: Database, roadmap: Roadmap, clock: FakeClock, members: int) -> list[int]:
    """Members 1..n; every third has half of level 1's checklist done."""
    progress = ProgressService(db, roadmap, clock)
    half = [i.id for i in roadmap.checklist(1)][: math.ceil(len(roadmap.checklist(1)) / 2)]
    users = list(range(1, members + 1))
    for user in users:
        if user % 3 == 0:
            for item in half:
                await progress.complete(GUILD, user, item)
        else:
            await progress.complete(GUILD, user, roadmap.items[0].id)
    await progress.complete(OTHER, 1, roadmap.items[0].id)  # another server: not walked
    return users


BATCHES: list[int] = []


async def walk(service: RoleSyncService, after: int = 0) -> list[tuple[int, int, int]]:
    seen = []
    BATCHES.clear()
    while True:
        batch = await service.next_levels(GUILD, after)
        if not batch.members:
            return seen
        seen += batch.members
        BATCHES.append(len(batch.members))
        await service.record(GUILD, batch, Tally(given=1))
        after = batch.last_user_id


async def test_a_run_walks_every_member_in_batches_with_todays_threshold(
    db: Database, roadmap: Roadmap, clock: FakeClock, service: RoleSyncService
) -> None:
    users = await seed(db, roadmap, clock, BATCH + 20)
    state, started = await service.start(GUILD, ADMIN)
    assert started and state.running and state.total == len(users) and state.checked == 0
    await GuildService(db, clock).set_threshold(GUILD, 50)
    seen = await walk(service)
    assert [u for u, _, _ in seen] == users  # each once, in order, this server only
    assert {u for u, old, new in seen if (old, new) == (0, 1)} == {u for u in users if u % 3 == 0}
    done = await service.finish(GUILD, DONE)
    assert done.status == DONE and done.finished_at is not None
    assert done.checked == len(users) and done.given == len(BATCHES)  # a tally a batch
    assert done.changed_levels == len(users) // 3
    # The members-per-level counters of /config insights moved with the levels.
    async with db.read() as s:
        stored = await s.run_sync(insights.stored_counts, GUILD)
        assert stored == await s.run_sync(insights.recount, GUILD)
    assert stored.levels[1] == len(users) // 3
    # Levels are stored: a second run finds nothing to change.
    await service.start(GUILD, ADMIN)
    assert all(old == new for _, old, new in await walk(service))


async def test_one_run_at_a_time_and_a_failed_run_goes_on_where_it_stopped(
    db: Database, roadmap: Roadmap, clock: FakeClock, service: RoleSyncService
) -> None:
    users = await seed(db, roadmap, clock, BATCH + 5)
    await GuildService(db, clock).set_threshold(GUILD, 50)  # every third member reaches 1
    await service.start(GUILD, ADMIN)
    batch = await service.next_levels(GUILD, 0, 10)  # stops at the 10th of them
    assert batch.last_user_id == 30
    await service.record(GUILD, batch, Tally())
    again, started = await service.start(GUILD, 77)
    assert not started and again.after_user_id == batch.last_user_id
    # The process stopped here: a new service (a restart) finds the run and where it was.
    fresh = RoleSyncService(db, roadmap, clock)
    [unfinished] = await fresh.unfinished()
    assert unfinished.guild_id == GUILD and unfinished.checked == 30
    assert [u for u, _, _ in await walk(fresh, unfinished.after_user_id)] == users[30:]
    await fresh.finish(GUILD, FAILED, "the gateway went away")
    failed = await fresh.state(GUILD)
    assert failed is not None and failed.status == FAILED and failed.last_error
    resumed, started = await fresh.start(GUILD, ADMIN)
    assert started and resumed.running and resumed.after_user_id == users[-1]
    assert resumed.last_error is None and resumed.checked == len(users)
    await fresh.finish(GUILD, DONE)
    restarted, started = await fresh.start(GUILD, ADMIN)  # after a finished run: from the start
    assert started and restarted.after_user_id == 0 and restarted.checked == 0


async def test_a_batch_stops_at_its_hundredth_member_above_level_0(
    db: Database, roadmap: Roadmap, clock: FakeClock, service: RoleSyncService
) -> None:
    users = await seed(db, roadmap, clock, 3 * BATCH + 30)
    await GuildService(db, clock).set_threshold(GUILD, 50)  # every third member reaches 1
    await service.start(GUILD, ADMIN)
    batch = await service.next_levels(GUILD, 0)
    concerned = [u for u, old, new in batch.members if old or new]
    assert len(concerned) == BATCH and batch.last_user_id == concerned[-1]
    assert [u for u, _, _ in batch.members] == users[: len(batch.members)]
    smaller = await service.next_levels(GUILD, 0, 10)  # the levels are stored: none moves
    assert [u for u, old, new in smaller.members if old or new] == concerned[:10]
