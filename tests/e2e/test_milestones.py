"""End to end: members tick items off, level up, and see it."""

from __future__ import annotations

from tests.e2e.harness import World, button_id, eventually, select_of


async def test_commands_are_synced_once(world: World) -> None:
    names = {c["name"] for c in world.fake.commands()}
    assert {
        "levels",
        "level",
        "roadmap",
        "milestone",
        "progress",
        "profile",
        "leaderboard",
        "mydata",
        "config",
    } <= names
    assert world.fake.command_sync_count == 1


async def test_complete_and_level_up(world: World) -> None:
    fake, alice = world.fake, world.alice
    checklist = world.roadmap.checklist(1)
    for item in checklist[:-1]:
        res, text = await world.run(alice, "milestone complete", milestone=item.id)
        assert res.ephemeral
        assert item.title in text
    role = fake.add_role(world.guild.id, name="Junior DE", position=2)
    await world.run(world.admin, "config level-role", level=1, role=role.id)
    res, text = await world.run(alice, "milestone complete", milestone=checklist[-1].id)
    assert "reached **Level 1 · Junior Data Engineer**" in text

    def announcements() -> list[dict]:
        return [m for m in fake.channel_messages(world.channel.id) if "reached" in m["content"]]

    await eventually(lambda: announcements())
    assert len(announcements()) == 1
    assert f"<@{alice.id}>" in announcements()[0]["content"]
    await eventually(lambda: role.id in fake.member_roles(world.guild.id, alice.id))

    # Undo loses the level and the role; redo gets them back without a second announcement.
    res, text = await world.run(alice, "milestone undo", milestone=checklist[0].id)
    assert "Level 0" in text
    await eventually(lambda: role.id not in fake.member_roles(world.guild.id, alice.id))
    await world.run(alice, "milestone complete", milestone=checklist[0].id)
    await eventually(lambda: role.id in fake.member_roles(world.guild.id, alice.id))
    assert len(announcements()) == 1


async def test_autocomplete_offers_undone_for_complete_and_done_for_undo(world: World) -> None:
    fake, alice = world.fake, world.alice
    await world.run(alice, "milestone complete", milestone="l2.check.spark-job")
    res = await fake.autocomplete(
        world.guild.id, alice.id, "milestone complete", {"milestone": "spark"}, focused="milestone"
    )
    values = [c["value"] for c in await res.choices()]
    assert "l2.check.spark-job" not in values
    assert "l2.technical.spark-jobs" in values
    res = await fake.autocomplete(
        world.guild.id, alice.id, "milestone undo", {"milestone": "spark"}, focused="milestone"
    )
    assert [c["value"] for c in await res.choices()] == ["l2.check.spark-job"]
    res = await fake.autocomplete(
        world.guild.id, alice.id, "milestone complete", {"milestone": ""}, focused="milestone"
    )
    choices = await res.choices()
    assert len(choices) == 25
    assert all(len(c["name"]) <= 100 for c in choices)


async def test_unknown_milestone_is_a_clear_ephemeral_error(world: World) -> None:
    res, text = await world.run(world.alice, "milestone complete", milestone="learn cobol")
    assert res.ephemeral
    assert "There is no milestone" in text and "/milestone list" in text
    res, text = await world.run(world.alice, "milestone undo", milestone="l1.check.python-training")
    assert res.ephemeral and "nothing to undo" in text


async def test_list_paginates_with_owner_only_buttons(world: World) -> None:
    fake, alice, bob = world.fake, world.alice, world.bob
    await world.run(alice, "milestone complete", milestone=world.roadmap.items[0].id)
    res, text = await world.run(alice, "milestone list")
    assert "✅ " + world.roadmap.items[0].title in text
    assert "1/130 done · page 1/9" in text
    message = res.message
    other = await fake.click(world.guild.id, bob.id, message, button_id(message, "Next"))
    await other.final()
    assert other.ephemeral and "belong to whoever ran the command" in other.text()
    turned = await fake.click(world.guild.id, alice.id, message, button_id(message, "Next"))
    await turned.final()
    assert "page 2/9" in turned.text()


async def test_checklist_select_completes_and_undoes(world: World) -> None:
    fake, alice = world.fake, world.alice
    items = world.roadmap.checklist(1)
    await world.run(alice, "milestone complete", milestone=items[0].id)
    res, text = await world.run(alice, "milestone checklist", level=1)
    assert res.ephemeral and "1/7 done" in text
    select = select_of(res.message)
    assert [o["value"] for o in select["options"] if o.get("default")] == [items[0].id]
    chosen = [items[1].id, items[2].id]
    picked = await fake.select(world.guild.id, alice.id, res.message, select["custom_id"], chosen)
    await picked.final()
    assert "Saved: 2/7" in picked.text()
    done = await world.bot.services.progress.done_ids(world.guild.id, alice.id)  # type: ignore[union-attr]
    assert {i.id for i in items} & done == set(chosen)


async def test_data_survives_a_restart_without_resync(world: World) -> None:
    alice = world.alice
    await world.run(alice, "milestone complete", milestone="l1.check.python-training")
    await world.run(alice, "profile", started="2026-01-15", timezone="Europe/Berlin")
    await world.restart()
    assert world.fake.command_sync_count == 1
    _, text = await world.run(alice, "progress")
    assert "1/130" in text
    _, text = await world.run(alice, "profile")
    assert "2026-01-15" in text and "Europe/Berlin" in text
