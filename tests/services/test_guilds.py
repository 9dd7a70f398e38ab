"""GuildService against a real SQLite file: settings, level roles, audit list, threshold."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from bot.db import Database
from bot.defaults import LEVEL_THRESHOLD as DEFAULT_THRESHOLD
from bot.errors import UserError
from bot.roadmap import Roadmap
from bot.services.guilds import GuildService
from bot.services.members import MemberService
from bot.services.progress import ProgressService
from tests.support.fakes import FakeClock

G1, G2 = 1001, 2002
ADMIN, OTHER_ADMIN = 99, 98
T0 = dt.datetime(2025, 3, 3, 12, 0, tzinfo=dt.UTC)


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


@pytest.fixture
def guilds(db: Database, clock: FakeClock) -> GuildService:
    return GuildService(db, clock)


async def test_defaults_for_a_new_server(guilds: GuildService):
    config = await guilds.config(G1)
    assert config.guild_id == G1
    assert config.level_threshold == DEFAULT_THRESHOLD == 100
    assert config.timezone is None
    assert config.announce_channel_id is None
    assert config.level_roles == ()
    assert config.recent_audit == ()
    assert config.last_error is None
    assert (await guilds.level_setup(G1)).announce_channel_id is None


async def test_announce_channel_set_and_cleared(guilds: GuildService):
    await guilds.set_announce_channel(G1, 555)
    assert (await guilds.level_setup(G1)).announce_channel_id == 555
    assert (await guilds.config(G1)).announce_channel_id == 555
    assert (await guilds.level_setup(G2)).announce_channel_id is None
    await guilds.set_announce_channel(G1, None)
    assert (await guilds.level_setup(G1)).announce_channel_id is None


async def test_settings_are_independent(guilds: GuildService):
    await guilds.set_threshold(G1, 60)
    await guilds.set_announce_channel(G1, 555)
    config = await guilds.config(G1)
    assert (config.level_threshold, config.announce_channel_id) == (60, 555)
    # changing one setting keeps the others
    await guilds.set_threshold(G1, 75)
    config = await guilds.config(G1)
    assert (config.level_threshold, config.announce_channel_id) == (75, 555)
    assert (await guilds.config(G2)).level_threshold == 100


@pytest.mark.parametrize("percent", [1, 50, 100])
async def test_threshold_bounds_accepted(guilds: GuildService, percent: int):
    await guilds.set_threshold(G1, percent)
    assert (await guilds.config(G1)).level_threshold == percent


@pytest.mark.parametrize("percent", [0, -1, 101])
async def test_threshold_outside_1_to_100_rejected(guilds: GuildService, percent: int):
    await guilds.set_threshold(G1, 40)
    with pytest.raises(UserError) as info:
        await guilds.set_threshold(G1, percent)
    assert "1 to 100" in info.value.message
    assert (await guilds.config(G1)).level_threshold == 40


async def test_threshold_changes_levels(
    guilds: GuildService, db: Database, roadmap: Roadmap, clock: FakeClock
):
    progress = ProgressService(db, roadmap, clock)
    items = [i.id for i in roadmap.checklist(1)]
    await guilds.set_threshold(G1, 50)
    for n, item_id in enumerate(items[:4]):
        progress.clock.set(at(n))
        change = await progress.complete(G1, 7, item_id)
    assert change.new_level == 1
    assert change.announce == (1,)


async def test_level_roles(guilds: GuildService):
    await guilds.set_level_role(G1, 2, 7002, ADMIN)
    await guilds.set_level_role(G1, 1, 7001, ADMIN)
    roles = await guilds.level_roles(G1)
    assert list(roles) == [1, 2]
    assert (roles[1].role_id, roles[1].configured_by) == (7001, ADMIN)
    assert [r.level for r in (await guilds.config(G1)).level_roles] == [1, 2]
    assert await guilds.level_roles(G2) == {}

    # an error is remembered, and cleared by setting the role again
    await guilds.record_role_error(G1, 1, "Missing Permissions: move my role above it")
    info = (await guilds.level_roles(G1))[1]
    assert info.last_error == "Missing Permissions: move my role above it"
    assert info.last_error_at is not None
    await guilds.set_level_role(G1, 1, 7011, OTHER_ADMIN)
    info = (await guilds.level_roles(G1))[1]
    assert (info.role_id, info.configured_by, info.last_error, info.last_error_at) == (
        7011,
        OTHER_ADMIN,
        None,
        None,
    )
    # recording None clears an error
    await guilds.record_role_error(G1, 2, "boom")
    await guilds.record_role_error(G1, 2, None)
    info = (await guilds.level_roles(G1))[2]
    assert (info.last_error, info.last_error_at) == (None, None)


async def test_clear_level_role(guilds: GuildService):
    await guilds.set_level_role(G1, 3, 7003, ADMIN)
    await guilds.set_level_role(G2, 3, 8003, ADMIN)
    assert await guilds.clear_level_role(G1, 3) == 7003
    assert await guilds.level_roles(G1) == {}
    assert await guilds.clear_level_role(G1, 3) is None  # nothing left to clear
    assert (await guilds.level_roles(G2))[3].role_id == 8003


async def test_audit_list_newest_first_and_limited(
    guilds: GuildService, db: Database, roadmap: Roadmap, clock: FakeClock
):
    progress = ProgressService(db, roadmap, clock)
    items = [i.id for i in roadmap.items if not i.is_checklist][:12]
    for n, item_id in enumerate(items):
        progress.clock.set(at(n))
        await progress.complete(G1, 7, item_id, actor_id=ADMIN)
    progress.clock.set(at(100))
    await progress.undo(G1, 7, items[0], actor_id=OTHER_ADMIN)
    # a no-op grant writes nothing
    progress.clock.set(at(200))
    await progress.complete(G1, 7, items[1], actor_id=ADMIN)
    # corrections in another server do not show here
    progress.clock.set(at(300))
    await progress.complete(G2, 7, items[0], actor_id=ADMIN)

    audit = (await guilds.config(G1)).recent_audit
    assert len(audit) == 10
    assert (audit[0].action, audit[0].actor_id, audit[0].item_id) == (
        "revoke",
        OTHER_ADMIN,
        items[0],
    )
    assert audit[0].created_at == at(100)
    assert [a.item_id for a in audit[1:]] == list(reversed(items))[:9]
    assert all(a.action == "grant" and a.member_id == 7 for a in audit[1:])
    times = [a.created_at for a in audit]
    assert times == sorted(times, reverse=True)

    full = (await guilds.config(G1, audit_limit=50)).recent_audit
    assert len(full) == 13
    g2 = (await guilds.config(G2)).recent_audit
    assert [(a.action, a.item_id) for a in g2] == [("grant", items[0])]


async def test_audit_same_time_newest_first(
    guilds: GuildService, db: Database, roadmap: Roadmap, clock: FakeClock
):
    progress = ProgressService(db, roadmap, clock)
    item_id = roadmap.checklist(1)[0].id
    progress.clock.set(at(0))
    await progress.complete(G1, 7, item_id, actor_id=ADMIN)
    progress.clock.set(at(0))
    await progress.undo(G1, 7, item_id, actor_id=ADMIN)
    audit = (await guilds.config(G1)).recent_audit
    assert [a.action for a in audit] == ["revoke", "grant"]


async def test_cards_are_on_by_default_and_switch_per_server_and_member(
    db: Database, guilds: GuildService, clock: FakeClock
) -> None:
    members = MemberService(db, clock)
    assert await guilds.cards_on(G1) and await guilds.cards_on(G1, ADMIN)
    assert (await guilds.config(G1)).cards
    await members.update_profile(G1, ADMIN, cards=False)
    assert await guilds.cards_on(G1) and not await guilds.cards_on(G1, ADMIN)
    assert await guilds.cards_on(G2, ADMIN)  # the member's choice is per server
    await guilds.set_cards(G1, False)
    assert not await guilds.cards_on(G1) and not await guilds.cards_on(G1, OTHER_ADMIN)
    assert not (await guilds.config(G1)).cards and (await guilds.config(G2)).cards
    await guilds.set_cards(G1, True)
    await members.update_profile(G1, ADMIN, cards=True)
    assert await guilds.cards_on(G1, ADMIN)


async def test_the_level_setup_kept_in_memory_agrees_with_the_database(
    db: Database, clock: FakeClock
) -> None:
    """After every change of level roles or the announcement channel, what a level change
    reads (kept between changes) is what a service reading the database afresh finds."""
    guilds = GuildService(db, clock)

    async def agree() -> None:
        kept = await guilds.level_setup(G1)
        assert kept == await GuildService(db, clock).level_setup(G1)
        assert kept is await guilds.level_setup(G1)  # served from memory until a change

    await agree()
    await guilds.set_level_role(G1, 1, 7001, ADMIN)
    await agree()
    await guilds.set_announce_channel(G1, 555)
    await agree()
    await guilds.record_role_error(G1, 1, "boom")
    await agree()
    await guilds.record_role_error(G1, 1, None)
    await agree()
    await guilds.set_level_role(G1, 1, 7011, OTHER_ADMIN)
    await agree()
    await guilds.clear_level_role(G1, 1)
    await agree()
    await guilds.set_announce_channel(G1, None)
    await guilds.set_threshold(G1, 50)  # not part of it, but the same row
    await agree()


async def test_a_read_racing_a_change_is_not_kept(
    db: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    guilds = GuildService(db, clock)
    gate = asyncio.Event()
    read = db.run_fast_read

    async def slow_read(work: Any, *args: Any) -> Any:
        found = await read(work, *args)  # read before the change commits...
        await gate.wait()  # ...and handed back after it
        return found

    monkeypatch.setattr(db, "run_fast_read", slow_read)
    racing = asyncio.create_task(guilds.level_setup(G1))
    await asyncio.sleep(0.05)
    await guilds.set_level_role(G1, 1, 7001, ADMIN)
    gate.set()
    assert (await racing).roles == {}  # what it read, before the change
    monkeypatch.setattr(db, "run_fast_read", read)
    assert list((await guilds.level_setup(G1)).roles) == [1]  # not kept: read again
