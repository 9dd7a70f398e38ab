"""End to end: `/config sync-roles` as a background run — members looked up in bulk over the
gateway, a REST call only where roles must change, progress kept, resumed after a restart."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import insert

from bot.db.models import Completion, Member, RoleSync
from bot.services.rolesync import BATCH
from tests.e2e.harness import World, eventually
from tests.fakediscord import FakeMember, FakeRole

MEMBERS = 250
AT_LEVEL_1 = 150  # the first 150 members reached level 1; the others have nothing


async def scene(world: World) -> tuple[list[FakeMember], FakeRole, FakeRole]:
    """Level roles for levels 1 and 2; members whose roles are mostly right already."""
    fake, bot = world.fake, world.bot
    assert bot is not None
    one = fake.add_role(world.guild.id, name="Junior DE", position=2)
    two = fake.add_role(world.guild.id, name="Data Engineer", position=3)
    for level, role in ((1, one), (2, two)):
        await world.run(world.admin, "config level-role", level=level, role=role.id)
    members = [fake.add_member(world.guild.id, name=f"m{i:03}") for i in range(MEMBERS)]
    checklist = [i.id for i in world.roadmap.checklist(1)]
    now = dt.datetime.now(dt.UTC)
    async with bot.db.write.begin() as s:
        await s.execute(
            insert(Member),
            [
                {
                    "guild_id": world.guild.id,
                    "user_id": m.id,
                    "display_name": m.name,
                    "level": 1 if i < AT_LEVEL_1 else 0,
                    "completed_count": len(checklist) if i < AT_LEVEL_1 else 0,
                    "created_at": now,
                }
                for i, m in enumerate(members)
            ],
        )
        await s.execute(
            insert(Completion),
            [
                {"guild_id": world.guild.id, "user_id": m.id, "item_id": item, "completed_at": now}
                for m in members[:AT_LEVEL_1]
                for item in checklist
            ],
        )
    for i, member in enumerate(members[:AT_LEVEL_1]):
        if i % 15 != 7:  # 10 members of level 1 lack its role
            member.roles.add(one.id)
        if i % 30 == 0:  # 5 hold level 2's role without the level
            member.roles.add(two.id)
    return members, one, two


def role_calls(world: World) -> list[Any]:
    return [
        r
        for r in world.fake.requests
        if "/members/" in r.path and r.method in ("PUT", "DELETE", "PATCH")
    ]


async def test_members_are_looked_up_a_hundred_at_a_time_and_only_changes_are_sent(
    world: World,
) -> None:
    fake = world.fake
    members, one, two = await scene(world)
    before = len(fake.requests)
    res, _ = await world.run(world.admin, "config sync-roles")
    await eventually(lambda: "Checked" in res.text())  # the answer is edited as it goes
    text = res.text()
    assert f"Checked {MEMBERS} member(s): 0 changed level, 10 role(s) given, 5 taken" in text
    # Gateway lookups of at most 100 ids, only for members who are (or were) above level 0.
    asked = [u for r in fake.member_requests for u in r["user_ids"]]
    assert all(len(r["user_ids"]) <= 100 for r in fake.member_requests)
    assert sorted(asked) == sorted(m.id for m in members[:AT_LEVEL_1])
    # No member fetched one REST call at a time; one call per member whose roles change.
    new = fake.requests[before:]
    assert not [r for r in new if r.method == "GET" and "/members/" in r.path]
    assert len(role_calls(world)) == 15
    for i, member in enumerate(members):
        expected = {one.id} if i < AT_LEVEL_1 else set()
        assert member.roles & {one.id, two.id} == expected
    assert "Role sync" in (shown := (await world.run(world.admin, "config show"))[1])
    assert f"Checked {MEMBERS} member(s)" in shown


async def test_a_run_under_way_when_the_bot_stopped_goes_on_where_it_was(world: World) -> None:
    fake, bot = world.fake, world.bot
    assert bot is not None
    members, one, _ = await scene(world)
    # The first batch was done when the bot stopped: the run is recorded as under way.
    cursor = members[BATCH - 1].id
    now = dt.datetime.now(dt.UTC)
    async with bot.db.write.begin() as s:
        await s.execute(
            insert(RoleSync).values(
                guild_id=world.guild.id,
                status="running",
                requested_by=world.admin.id,
                after_user_id=cursor,
                total=MEMBERS,
                checked=BATCH,
                started_at=now,
                updated_at=now,
            )
        )
    await world.restart()
    restarted = world.bot
    assert restarted is not None

    async def finished() -> bool:
        state = await restarted.services.rolesync.state(world.guild.id)
        return state is not None and state.status == "done"

    for _ in range(500):
        if await finished():
            break
        await asyncio.sleep(0.01)
    assert await finished()
    asked = sorted(u for r in fake.member_requests for u in r["user_ids"])
    assert asked == sorted(m.id for m in members[BATCH:AT_LEVEL_1])  # nothing before the cursor
    state = await restarted.services.rolesync.state(world.guild.id)
    assert state is not None and state.checked == MEMBERS
    for i, member in enumerate(members[:AT_LEVEL_1]):
        fixed = i >= BATCH or i % 15 != 7
        assert (one.id in member.roles) == fixed
