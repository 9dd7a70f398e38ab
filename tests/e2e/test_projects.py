"""End to end: `/projects`, and projects completed like any item, linked to their checklist."""

from __future__ import annotations

import asyncio

from tests.e2e.harness import World, eventually

FOUNDATION = "l1.check.foundation-1-2"
P1, P2 = "l1.project.foundation-1", "l1.project.foundation-2"


async def test_projects_by_group_with_levels_and_done_marks(world: World) -> None:
    alice, roadmap = world.alice, world.roadmap
    res, text = await world.run(alice, "projects")
    assert res.ephemeral and "**0/15** done" in text
    for group, numbers in (
        ("Foundation", "1-3"),
        ("Cloud & Big Data", "4-6"),
        ("Advanced Data Engineering", "7-9"),
        ("Specialization & Mastery", "10-12"),
        ("Cutting-Edge Technologies", "13-15"),
    ):
        assert f"{group} ({numbers})" in text
    for project in roadmap.projects:
        assert f"⬜ **{project.number}** · {project.name} · level {project.level}" in text

    _, text = await world.run(alice, "milestone complete", milestone=P1)
    assert "✅ Done: **Foundation Project 1**" in text and "Also done" not in text
    _, text = await world.run(alice, "projects", level=1)
    assert "Projects of Level 1 · Junior Data Engineer" in text and "**1/2** done" in text
    assert "✅ **1** · Foundation Project 1" in text and "⬜ **2** · Foundation Project 2" in text
    assert "Foundation Project 3" not in text
    assert "On the checklist" in text and "⬜ Completed Foundation Projects 1-2" in text
    # Bob's marks are his own.
    _, text = await world.run(world.bob, "projects", level=1)
    assert "**0/2** done" in text


async def test_completing_the_last_project_completes_the_item_and_undo_undoes_both(
    world: World,
) -> None:
    alice = world.alice
    res = await world.fake.autocomplete(
        world.guild.id,
        alice.id,
        "milestone complete",
        {"milestone": "foundation project 2"},
        focused="milestone",
    )
    values = [c["value"] for c in await res.choices()]
    assert P2 in values
    await world.run(alice, "milestone complete", milestone=P1)
    _, text = await world.run(alice, "milestone complete", milestone=P2)
    assert "Also done: **Completed Foundation Projects 1-2**" in text
    _, text = await world.run(alice, "level", level=1)
    assert "✅ Completed Foundation Projects 1-2" in text

    _, text = await world.run(alice, "milestone undo", milestone=FOUNDATION)
    assert "Also not done any more: **Foundation Project 1**, **Foundation Project 2**" in text
    _, text = await world.run(alice, "projects", level=1)
    assert "**0/2** done" in text and "⬜ Completed Foundation Projects 1-2" in text

    _, text = await world.run(alice, "milestone complete", milestone=FOUNDATION)
    assert "Also done: **Foundation Project 1**, **Foundation Project 2**" in text
    _, text = await world.run(alice, "milestone undo", milestone=P1)
    assert "Also not done any more: **Completed Foundation Projects 1-2**" in text
    _, text = await world.run(alice, "projects", level=1)
    assert "**1/2** done" in text and "✅ **2** · Foundation Project 2" in text


async def test_the_last_project_can_reach_a_level_announced_once(world: World) -> None:
    alice = world.alice
    assert world.bot is not None
    for item in world.roadmap.checklist(1):
        if item.id != FOUNDATION:
            await world.bot.services.progress.complete(world.guild.id, alice.id, item.id)
    await world.run(alice, "milestone complete", milestone=P1)
    _, text = await world.run(alice, "milestone complete", milestone=P2)
    assert "You reached **Level 1 · Junior Data Engineer**" in text

    def announcements() -> list[dict]:
        return [
            m for m in world.fake.channel_messages(world.channel.id) if "reached" in m["content"]
        ]

    await eventually(lambda: announcements())
    await world.run(alice, "milestone undo", milestone=P2)
    await world.run(alice, "milestone complete", milestone=P2)
    # The level change's side effects (roles, announcement) follow the reply: let them end.
    await eventually(lambda: not commands_running())
    assert len(announcements()) == 1


def commands_running() -> bool:
    """Whether a slash command's callback is still at work (it goes on after replying)."""
    return any(t.get_name() == "CommandTree-invoker" and not t.done() for t in asyncio.all_tasks())


async def test_undoing_a_project_not_done_is_a_clear_error(world: World) -> None:
    res, text = await world.run(world.alice, "milestone undo", milestone=P1)
    assert res.ephemeral and "nothing to undo" in text
    res, text = await world.run(world.alice, "milestone complete", milestone="l9.project.nope")
    assert res.ephemeral and "There is no milestone" in text
