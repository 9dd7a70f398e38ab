"""End to end: `/config insights` and `/config assess-every` (the check-in prompt and DM line)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.e2e.harness import World, button_id
from tests.e2e.test_checkins import admin_run, prompts, run_due
from tests.fakediscord import FakeMember
from tests.fakediscord.interaction import message_text

UTC = dt.UTC
EARLY = dt.datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
LATER = dt.datetime(2030, 4, 15, 12, 0, tzinfo=UTC)  # six weeks on


async def complete(world: World, member: FakeMember, *item_ids: str) -> None:
    assert world.bot is not None
    for item_id in item_ids:
        await world.bot.services.progress.complete(
            world.guild.id, member.id, item_id, display_name=member.name
        )


def embeds_text(message: dict[str, Any]) -> str:
    return message_text(message)


async def test_insights_counts_everyone_and_lists_only_shown_members(world: World) -> None:
    fake, alice, bob = world.fake, world.alice, world.bob
    carol = fake.add_member(world.guild.id, name="carol")
    dave = fake.add_member(world.guild.id, name="dave")
    world.clock.set(EARLY)
    level_one = [i.id for i in world.roadmap.checklist(1)]
    await complete(world, alice, *level_one)
    await complete(world, bob, level_one[0])
    await complete(world, carol, level_one[0], level_one[1])
    await world.run(carol, "profile", hidden=True)
    await world.run(dave, "profile")  # seen once, nothing done
    assert world.bot is not None
    await world.bot.services.assessments.save(world.guild.id, alice.id, {"impact.innovation": 4})
    await world.bot.services.assessments.save(world.guild.id, bob.id, {"impact.innovation": 1})

    world.clock.set(LATER)
    await complete(world, dave, level_one[2])  # Dave is active again
    res, text = await world.run(world.admin, "config insights")
    assert res.ephemeral
    assert "**4** member(s); 1 hidden from lists are counted" in text
    assert "**0** · Senior Data Analyst: **3**" in text
    assert "**1** · Junior Data Engineer: **1**" in text
    assert "**3** member(s) last active on 2030-03-18 or before" in text  # Alice, Bob, Carol
    assert "median **0 month(s)** · roadmap 0-6 months · 1 member(s)" in text
    assert "nobody yet · roadmap 6-12 months" in text
    assert "no check-in yet" in text
    assert "Innovation: **2.5** (2)" in text and "Business Value: —" in text
    first = world.roadmap.checklist(1)[0].title
    assert f"**3** · {first}" in text  # everyone who did it, the hidden member too
    assert "⚠️ **1** · " in text  # the item the fewest members have on level 1
    assert "#1 **1** · #2 **1** · #3 **0**" in text  # Alice's checklist brought projects 1-2
    total = sum(
        len(str(e.get(k) or "")) for e in res.message["embeds"] for k in ("title", "description")
    ) + sum(len(f["name"]) + len(f["value"]) for e in res.message["embeds"] for f in e["fields"])
    assert total < 6000  # Discord's limit for all embeds of a message

    # The list names the two shown inactive members, never the hidden one.
    listed = await fake.click(
        world.guild.id, world.admin.id, res.message, button_id(res.message, "Inactive members (2)")
    )
    await listed.final()
    assert listed.ephemeral
    text = listed.text()
    assert f"<@{alice.id}>" in text and f"<@{bob.id}>" in text
    assert f"<@{carol.id}>" not in text and f"<@{dave.id}>" not in text
    assert "last active 2030-03-01" in text and "2 shown member(s)" in text
    # Only the admin who asked can press it.
    other = await fake.click(
        world.guild.id, alice.id, res.message, button_id(res.message, "Inactive members")
    )
    await other.final()
    assert other.ephemeral and "belong to whoever ran the command" in other.text()


async def test_inactive_members_are_paged(world: World) -> None:
    fake = world.fake
    world.clock.set(EARLY)
    people = [fake.add_member(world.guild.id, name=f"m{n:02d}") for n in range(14)]
    for person in people:
        await world.run(person, "profile")
    world.clock.set(LATER)
    res, _ = await world.run(world.admin, "config insights")
    listed = await fake.click(
        world.guild.id, world.admin.id, res.message, button_id(res.message, "Inactive members")
    )
    await listed.final()
    assert "page 1/2" in listed.text() and "14 shown member(s)" in listed.text()
    assert listed.message is not None
    turned = await fake.click(
        world.guild.id, world.admin.id, listed.message, button_id(listed.message, "Next")
    )
    await turned.final()
    assert "page 2/2" in turned.text()
    assert f"<@{people[-1].id}>" in turned.text()


async def run_as_member(world: World, command: str, **options: Any) -> tuple[Any, str]:
    """A member runs /config where the server made it visible: the bot refuses at run time."""
    world.fake.enforce_permissions = False
    try:
        res = await world.fake.slash(
            world.guild.id, world.alice.id, command, options, world.channel.id
        )
    finally:
        world.fake.enforce_permissions = True
    await res.final()
    return res, res.text()


async def test_insights_and_assess_every_are_for_admins_only(world: World) -> None:
    for command, options in (("config insights", {}), ("config assess-every", {"weeks": 3})):
        res, text = await run_as_member(world, command, **options)
        assert res.ephemeral and "You need the Manage Server permission" in text
    assert world.bot is not None
    assert await world.bot.services.assessments.cadence(world.guild.id) == 4


async def test_assess_every_adds_a_line_to_the_prompt_and_to_due_members_dms(
    world: World,
) -> None:
    fake, alice, bob = world.fake, world.alice, world.bob
    world.clock.set(dt.datetime(2030, 3, 3, 12, 0, tzinfo=UTC))  # a Sunday
    await admin_run(
        world,
        "config checkins",
        channel=world.channel.id,
        day=0,
        time="18:00",
        timezone="UTC",
    )
    for member in (alice, bob):
        await world.run(member, "reminders subscribe", day=0, time="09:00")
    assert world.bot is not None
    await world.bot.services.assessments.save(world.guild.id, bob.id, {"impact.innovation": 3})

    # The default: every 4 weeks. Alice never assessed herself; Bob just did.
    await run_due(world, dt.datetime(2030, 3, 4, 9, 0, tzinfo=UTC))
    [alice_dm] = fake.dms(alice.id)
    assert "Self-assessment" in embeds_text(alice_dm)
    assert "You have not rated yourself" in embeds_text(alice_dm)
    [bob_dm] = fake.dms(bob.id)
    assert "Self-assessment" not in embeds_text(bob_dm)
    await run_due(world, dt.datetime(2030, 3, 4, 18, 0, tzinfo=UTC))
    [prompt] = prompts(world)
    assert "/assess rate" in embeds_text(prompt) and "4 or more week(s)" in embeds_text(prompt)
    assert fake.dms(alice.id) == [alice_dm]  # never a message of its own

    # Four weeks later (a Monday) Bob is due too, and his DM says since when.
    await run_due(world, dt.datetime(2030, 4, 1, 9, 0, tzinfo=UTC))
    bob_later = fake.dms(bob.id)[-1]
    assert "Your last self-assessment was on 2030-03-03" in embeds_text(bob_later)

    res, text = await admin_run(world, "config assess-every", weeks=0)
    assert res.ephemeral and "No more self-assessment reminders" in text
    _, text = await admin_run(world, "config show")
    assert "off: set with /config assess-every" in text
    await run_due(world, dt.datetime(2030, 4, 8, 9, 0, tzinfo=UTC))
    assert len(fake.dms(alice.id)) == 3
    assert "Self-assessment" not in embeds_text(fake.dms(alice.id)[-1])
    await run_due(world, dt.datetime(2030, 4, 8, 18, 0, tzinfo=UTC))
    assert "/assess rate" not in embeds_text(prompts(world)[-1])

    res, text = await admin_run(world, "config assess-every", weeks=2)
    assert "2 or more week(s) old" in text
    _, text = await admin_run(world, "config show")
    assert "every 2 week(s)" in text
