"""End to end: `/config` for admins — settings, level roles, announcements, threshold,
role sync and corrections — and its refusal for everyone else."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
import pytest

from tests.e2e.harness import World, eventually
from tests.fakediscord import FakeMember


def checklist_ids(world: World, level: int) -> list[str]:
    return [i.id for i in world.roadmap.checklist(level)]


async def complete(world: World, member: FakeMember, *item_ids: str) -> None:
    """Set up progress straight through the service (no Discord side effects)."""
    assert world.bot is not None
    for item_id in item_ids:
        await world.bot.services.progress.complete(
            world.guild.id, member.id, item_id, display_name=member.name
        )


async def level_up_to_1(world: World, member: FakeMember) -> str:
    """Six level-1 checklist items set up, the seventh completed by the member's command."""
    ids = checklist_ids(world, 1)
    await complete(world, member, *ids[:-1])
    _, text = await world.run(member, "milestone complete", milestone=ids[-1])
    assert "You reached **Level 1" in text
    return text


def announcements(world: World, channel_id: int) -> list[dict[str, Any]]:
    return [m for m in world.fake.channel_messages(channel_id) if "reached" in m["content"]]


def roles_of(world: World, member: FakeMember) -> set[int]:
    return world.fake.member_roles(world.guild.id, member.id)


def bot_guild(world: World) -> discord.Guild:
    """The server as the bot's cache sees it."""
    assert world.bot is not None
    guild = world.bot.get_guild(world.guild.id)
    assert guild is not None
    return guild


async def show(world: World) -> str:
    res, text = await world.run(world.admin, "config show")
    assert res.ephemeral
    return text


# ------------------------------------------------------------------ permission


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("config show", {}),
        ("config level-threshold", {"percent": 10}),
        ("config announce", {}),
        ("config sync-roles", {}),
        ("config grant", {"member": "alice", "milestone": "l1.check.python-training"}),
    ],
)
async def test_config_refuses_members_without_manage_server(
    world: World, command: str, options: dict[str, Any]
) -> None:
    fake, alice = world.fake, world.alice
    opts = {k: (alice if v == "alice" else v) for k, v in options.items()}
    # Discord would hide /config (default_permissions), but a server can override that:
    # the bot must refuse at run time anyway.
    fake.enforce_permissions = False
    try:
        res = await fake.slash(world.guild.id, alice.id, command, opts, world.channel.id)
    finally:
        fake.enforce_permissions = True
    await res.final()
    assert res.ephemeral
    assert "You need the Manage Server permission" in res.text()
    assert world.bot is not None
    cfg = await world.bot.services.guilds.config(world.guild.id)
    assert cfg.level_threshold == 100 and cfg.announce_channel_id is None
    assert cfg.recent_audit == ()
    assert await world.bot.services.progress.done_ids(world.guild.id, alice.id) == set()


async def test_config_is_hidden_from_members_by_default(world: World) -> None:
    config = next(c for c in world.fake.commands() if c["name"] == "config")
    assert int(config["default_member_permissions"]) == 1 << 5  # Manage Server


async def test_config_show_defaults(world: World) -> None:
    text = await show(world)
    assert "Settings of Data Guild" in text
    assert "100% of each checklist" in text
    assert "where they happen" in text
    assert "none: add with /config level-role" in text
    assert "Latest corrections and reviews\nnone" in text


# ------------------------------------------------------------------ level roles


async def test_level_role_above_the_bot_is_explained_and_survives_a_level_up(
    world: World,
) -> None:
    fake, alice = world.fake, world.alice
    lead = fake.add_role(world.guild.id, name="Lead", position=20)  # the bot's role is at 10
    res, text = await world.run(world.admin, "config level-role", level=1, role=lead.id)
    assert res.ephemeral
    assert f"<@&{lead.id}>" in text
    assert "cannot give it yet" in text
    assert "not below my highest role" in text and "Server Settings → Roles" in text

    text = await show(world)
    assert f"L1 · <@&{lead.id}>" in text
    assert "⚠️ the role Lead is not below my highest role" in text

    await level_up_to_1(world, alice)
    await eventually(lambda: announcements(world, world.channel.id))
    assert lead.id not in roles_of(world, alice)
    text = await show(world)
    assert "⚠️ the role Lead is not below my highest role" in text

    # Once the admin moves the role below the bot's, sync-roles gives it and clears the warning.
    lead.position = 5
    fake._dispatch_all(
        "GUILD_ROLE_UPDATE", {"guild_id": str(world.guild.id), "role": lead.payload()}
    )
    await eventually(lambda: (r := bot_guild(world).get_role(lead.id)) and r.position == 5)
    _, text = await world.run(world.admin, "config sync-roles")
    assert "1 role(s) given" in text
    assert lead.id in roles_of(world, alice)
    assert "⚠️" not in await show(world)


async def test_level_role_refused_by_discord_is_recorded(world: World) -> None:
    fake, alice = world.fake, world.alice
    role = fake.add_role(world.guild.id, name="Junior DE", position=2)
    _, text = await world.run(world.admin, "config level-role", level=1, role=role.id)
    assert "cannot give it yet" not in text
    fake.fail("PUT", r"/guilds/\d+/members/\d+/roles/\d+", 403, 50013, "Missing Permissions")
    await level_up_to_1(world, alice)
    await eventually(lambda: announcements(world, world.channel.id))
    assert world.bot is not None
    for _ in range(300):  # the role error is recorded just after the reply
        if (await world.bot.services.guilds.level_roles(world.guild.id))[1].last_error:
            break
        await asyncio.sleep(0.01)
    text = await show(world)
    assert "⚠️ Discord refused: Missing Permissions" in text
    assert role.id not in roles_of(world, alice)


async def test_level_role_everyone_is_refused(world: World) -> None:
    res, text = await world.run(world.admin, "config level-role", level=1, role=world.guild.id)
    assert res.ephemeral and "@everyone cannot be a level role" in text
    assert "none: add with /config level-role" in await show(world)


async def test_level_role_clear(world: World) -> None:
    fake, alice, bob = world.fake, world.alice, world.bob
    res, text = await world.run(world.admin, "config level-role-clear", level=3)
    assert res.ephemeral
    assert "Level 3 has no role set, so there is nothing to clear." in text

    role = fake.add_role(world.guild.id, name="Junior DE", position=2)
    await world.run(world.admin, "config level-role", level=1, role=role.id)
    await level_up_to_1(world, alice)
    await eventually(lambda: role.id in roles_of(world, alice))

    res, text = await world.run(world.admin, "config level-role-clear", level=1)
    assert res.ephemeral
    assert f"Level 1 no longer gives <@&{role.id}>. Nobody loses it." in text
    assert role.id in roles_of(world, alice)
    assert "none: add with /config level-role" in await show(world)

    # Losing the level no longer takes it; reaching the level no longer gives it.
    await world.run(alice, "milestone undo", milestone=checklist_ids(world, 1)[0])
    await level_up_to_1(world, bob)
    await eventually(lambda: len(announcements(world, world.channel.id)) == 2)
    _, text = await world.run(world.admin, "config sync-roles")
    assert "0 role(s) given, 0 taken" in text
    assert role.id in roles_of(world, alice)
    assert role.id not in roles_of(world, bob)


# ------------------------------------------------------------------ announcements


async def test_announce_channel_gets_level_ups(world: World) -> None:
    fake, alice = world.fake, world.alice
    levelups = fake.add_channel(world.guild.id, name="level-ups")
    await eventually(lambda: bot_guild(world).get_channel(levelups.id) is not None)
    res, text = await world.run(world.admin, "config announce", channel=levelups.id)
    assert res.ephemeral and f"announced in <#{levelups.id}>" in text
    assert f"<#{levelups.id}>" in await show(world)

    await level_up_to_1(world, alice)
    await eventually(lambda: announcements(world, levelups.id))
    [message] = announcements(world, levelups.id)
    assert f"<@{alice.id}> reached **Level 1 · Junior Data Engineer**" in message["content"]
    assert announcements(world, world.channel.id) == []

    # The announcement pings the member, and only them.
    [request] = [
        r for r in fake.requests_to("POST", rf"/channels/{levelups.id}/messages") if r.json
    ]
    mentions = request.json["allowed_mentions"]
    assert mentions["parse"] == []
    assert [int(u) for u in mentions["users"]] == [alice.id]
    assert not mentions.get("roles")

    # Back to "where it happens".
    _, text = await world.run(world.admin, "config announce")
    assert "the channel where the level was reached" in text
    await level_up_to_1(world, world.bob)
    await eventually(lambda: announcements(world, world.channel.id))
    assert len(announcements(world, levelups.id)) == 1


async def test_announce_channel_where_the_bot_cannot_send_is_refused(world: World) -> None:
    fake = world.fake
    levelups = fake.add_channel(world.guild.id, name="level-ups")
    everyone = fake.guild(world.guild.id).everyone
    everyone.permissions &= ~discord.Permissions(send_messages=True).value
    fake._dispatch_all(
        "GUILD_ROLE_UPDATE", {"guild_id": str(world.guild.id), "role": everyone.payload()}
    )

    await eventually(lambda: not bot_guild(world).default_role.permissions.send_messages)
    res, text = await world.run(world.admin, "config announce", channel=levelups.id)
    assert res.ephemeral and "give me Send Messages there first" in text
    assert "where they happen" in await show(world)


async def test_announcement_of_a_member_named_everyone_pings_only_them(world: World) -> None:
    fake = world.fake
    eve = fake.add_member(world.guild.id, name="eve", nick="@everyone")
    await level_up_to_1(world, eve)
    await eventually(lambda: announcements(world, world.channel.id))
    [request] = fake.requests_to("POST", rf"/channels/{world.channel.id}/messages")
    assert request.json["allowed_mentions"]["parse"] == []
    assert [int(u) for u in request.json["allowed_mentions"]["users"]] == [eve.id]
    assert "@everyone" not in request.json["content"]


# ------------------------------------------------------------------ threshold and sync


async def test_level_threshold_applies_at_the_next_change(world: World) -> None:
    alice = world.alice
    await complete(world, alice, *checklist_ids(world, 1)[:4])
    res, text = await world.run(world.admin, "config level-threshold", percent=50)
    assert res.ephemeral and "50%" in text and "/config sync-roles" in text
    assert "50% of each checklist" in await show(world)
    _, text = await world.run(alice, "progress")
    assert "**Level 0" in text  # not yet: nothing changed for alice

    # Her next change of progress (any item) applies the new threshold.
    first_knowledge = world.roadmap.level(1).milestones["knowledge"][0].id
    _, text = await world.run(alice, "milestone complete", milestone=first_knowledge)
    assert "You reached **Level 1 · Junior Data Engineer**" in text
    await eventually(lambda: announcements(world, world.channel.id))


async def test_level_threshold_range(world: World) -> None:
    threshold = next(
        sub
        for c in world.fake.commands()
        if c["name"] == "config"
        for sub in c["options"]
        if sub["name"] == "level-threshold"
    )
    option = threshold["options"][0]
    assert (option["min_value"], option["max_value"]) == (1, 100)


async def test_sync_roles_applies_the_threshold_to_everyone(world: World) -> None:
    fake, alice, bob, admin = world.fake, world.alice, world.bob, world.admin
    r1 = fake.add_role(world.guild.id, name="Junior DE", position=2)
    r2 = fake.add_role(world.guild.id, name="Data Engineer", position=3)
    _, text = await world.run(admin, "config sync-roles")
    assert "No level roles are set" in text
    await world.run(admin, "config level-role", level=1, role=r1.id)
    await world.run(admin, "config level-role", level=2, role=r2.id)
    await complete(world, alice, *checklist_ids(world, 1)[:4])
    await complete(world, bob, *checklist_ids(world, 1), *checklist_ids(world, 2)[:4])

    res, text = await world.run(admin, "config sync-roles")
    assert res.ephemeral
    assert "Checked 2 member(s): 0 changed level, 1 role(s) given, 0 taken." in text
    assert roles_of(world, bob) >= {r1.id} and r2.id not in roles_of(world, bob)

    await world.run(admin, "config level-threshold", percent=50)
    _, text = await world.run(admin, "config sync-roles")
    assert "Checked 2 member(s): 2 changed level, 2 role(s) given, 0 taken." in text
    assert {r1.id} <= roles_of(world, alice) and r2.id not in roles_of(world, alice)
    assert {r1.id, r2.id} <= roles_of(world, bob)
    _, text = await world.run(alice, "progress")
    assert "**Level 1 · Junior Data Engineer**" in text

    await world.run(admin, "config level-threshold", percent=100)
    _, text = await world.run(admin, "config sync-roles")
    assert "Checked 2 member(s): 2 changed level, 0 role(s) given, 2 taken." in text
    assert not {r1.id, r2.id} & roles_of(world, alice)
    assert r1.id in roles_of(world, bob) and r2.id not in roles_of(world, bob)


async def test_sync_roles_counts_members_who_left(world: World) -> None:
    fake = world.fake
    role = fake.add_role(world.guild.id, name="Junior DE", position=2)
    await world.run(world.admin, "config level-role", level=1, role=role.id)
    gone = FakeMember(id=fake.snowflake(), name="gone")
    fake.users[gone.id] = gone
    await complete(world, gone, *checklist_ids(world, 1))
    _, text = await world.run(world.admin, "config sync-roles")
    assert "1 no longer in the server" in text


# ------------------------------------------------------------------ corrections


async def test_grant_and_revoke_are_corrections_with_roles_and_audit(world: World) -> None:
    fake, admin, alice = world.fake, world.admin, world.alice
    role = fake.add_role(world.guild.id, name="Junior DE", position=2)
    await world.run(admin, "config level-role", level=1, role=role.id)
    ids = checklist_ids(world, 1)
    await complete(world, alice, *ids[:-1])

    res, text = await world.run(admin, "config grant", member=alice, milestone=ids[-1])
    assert res.ephemeral
    title = world.roadmap.item(ids[-1]).title  # type: ignore[union-attr]
    assert f"**{title}** granted to <@{alice.id}>" in text
    assert "They are now at **Level 1 · Junior Data Engineer**" in text
    await eventually(lambda: role.id in roles_of(world, alice))
    await eventually(lambda: announcements(world, world.channel.id))
    _, text = await world.run(alice, "progress")
    assert "7/130 items done in all" in text

    _, text = await world.run(admin, "config grant", member=alice, milestone=ids[-1])
    assert "already has" in text and "nothing changed" in text

    res, text = await world.run(admin, "config revoke", member=alice, milestone=ids[0])
    assert res.ephemeral and f"revoked from <@{alice.id}>" in text
    assert "They are now at **Level 0" in text
    await eventually(lambda: role.id not in roles_of(world, alice))
    _, text = await world.run(alice, "progress")
    assert "6/130 items done in all" in text

    text = await show(world)
    corrections = text.split("Latest corrections and reviews\n", 1)[1]
    revoke_line = f"<@{admin.id}> took `{ids[0]}` from <@{alice.id}>"
    grant_line = f"<@{admin.id}> granted `{ids[-1]}` to <@{alice.id}>"
    assert revoke_line in corrections and grant_line in corrections
    assert corrections.index(revoke_line) < corrections.index(grant_line)  # latest first
    # The checklist item came with its two projects, each logged; the no-op grant is not.
    assert corrections.count("granted") == 3
    assert "<t:" in corrections  # when


async def test_grant_errors(world: World) -> None:
    admin = world.admin
    res, text = await world.run(admin, "config grant", member=world.alice, milestone="cobol")
    assert res.ephemeral and "There is no milestone" in text
    res, text = await world.run(
        admin, "config grant", member=world.fake.bot_id, milestone="l1.check.python-training"
    )
    assert res.ephemeral and "Bots do not have a roadmap" in text
    res, text = await world.run(
        admin, "config revoke", member=world.alice, milestone="l1.check.python-training"
    )
    assert "does not have" in text and "nothing changed" in text
    assert "Latest corrections and reviews\nnone" in await show(world)


async def test_grant_autocomplete(world: World) -> None:
    res = await world.fake.autocomplete(
        world.guild.id,
        world.admin.id,
        "config grant",
        {"member": world.alice, "milestone": "spark"},
        focused="milestone",
    )
    values = [c["value"] for c in await res.choices()]
    assert "l2.check.spark-job" in values and len(values) <= 25
