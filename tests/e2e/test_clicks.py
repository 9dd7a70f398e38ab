"""End to end: every click is answered, a double click and a late one included.

Two clicks sent at once (before the bot answers the first) are what a double click is; a
click on a view the bot no longer has (a restart) is a late one.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from bot.ui.deferral import EXPIRED, FORM_EXPIRED
from tests.e2e.harness import World, button_id, select_of
from tests.fakediscord import InteractionResult, message_text

T0 = dt.datetime(2030, 3, 4, 12, 0, tzinfo=dt.UTC)  # far from any real-time job


async def both(*results: InteractionResult) -> list[str]:
    """Wait for every answer; return what each one said (for an edit of a shared message,
    the edit this click made, not the message's latest state)."""
    await asyncio.gather(*(r.final(10) for r in results))
    assert all(r.responded and not r.expired for r in results)
    return [
        message_text(r.callback["data"]) if r.type == 7 and r.callback else r.text()
        for r in results
    ]


async def complete(world: World, *item_ids: str) -> None:
    assert world.bot is not None
    for item_id in item_ids:
        await world.bot.services.progress.complete(world.guild.id, world.alice.id, item_id)


async def test_double_click_on_delete_my_data(world: World) -> None:
    fake, alice, guild = world.fake, world.alice, world.guild
    await complete(world, *[i.id for i in world.roadmap.checklist(1)[:3]])
    res, _ = await world.run(alice, "mydata delete")
    button = button_id(res.message, "Delete my data")
    first = await fake.click(guild.id, alice.id, res.message, button)
    second = await fake.click(guild.id, alice.id, res.message, button)
    texts = await both(first, second)
    assert texts[0].startswith("Deleted: 3 completed item(s)")
    assert texts[1].startswith("Already") and second.ephemeral
    assert world.bot is not None
    assert await world.bot.services.progress.done_ids(guild.id, alice.id) == set()


async def test_double_click_on_cancel(world: World) -> None:
    fake, alice, guild = world.fake, world.alice, world.guild
    await complete(world, world.roadmap.items[0].id)
    res, _ = await world.run(alice, "mydata delete")
    button = button_id(res.message, "Cancel")
    first = await fake.click(guild.id, alice.id, res.message, button)
    second = await fake.click(guild.id, alice.id, res.message, button)
    assert await both(first, second) == [
        "Nothing was deleted.",
        "Already cancelled: nothing was deleted.",
    ]
    assert world.bot is not None
    assert await world.bot.services.progress.done_ids(guild.id, alice.id) != set()


async def test_double_click_on_next_turns_two_pages(world: World) -> None:
    fake, alice, guild = world.fake, world.alice, world.guild
    res, text = await world.run(alice, "milestone list")
    assert "page 1/9" in text
    button = button_id(res.message, "Next")
    first = await fake.click(guild.id, alice.id, res.message, button)
    second = await fake.click(guild.id, alice.id, res.message, button)
    texts = await both(first, second)
    assert "page 2/9" in texts[0] and "page 3/9" in texts[1]


async def test_two_quick_choices_in_the_checklist(world: World) -> None:
    fake, alice, guild = world.fake, world.alice, world.guild
    items = [i.id for i in world.roadmap.checklist(1)]
    res, _ = await world.run(alice, "milestone checklist", level=1)
    menu = select_of(res.message)["custom_id"]
    first = await fake.select(guild.id, alice.id, res.message, menu, items[:1])
    second = await fake.select(guild.id, alice.id, res.message, menu, items[:3])
    texts = await both(first, second)
    assert "Saved: 1/7" in texts[0] and "Saved: 2/7" not in texts[0]
    assert "Saved: 3/7" in texts[1]
    assert world.bot is not None
    done = await world.bot.services.progress.done_ids(guild.id, alice.id)
    assert done == set(items[:3])
    # The menu kept its id: a third choice on the same message still reaches it.
    assert select_of(second.message)["custom_id"] == menu
    third = await fake.select(guild.id, alice.id, second.message, menu, [])
    assert "Saved: 0/7" in (await both(third))[0]


async def test_double_click_on_the_answer_button(world: World) -> None:
    fake, alice, guild = world.fake, world.alice, world.guild
    world.clock.set(T0)
    await world.run(
        world.admin,
        "config checkins",
        channel=world.channel.id,
        day=3,
        time="18:00",
        timezone="Europe/Berlin",
    )
    await world.run(world.admin, "config checkin-now")
    (prompt,) = [m for m in fake.channel_messages(world.channel.id) if m.get("components")]
    first = await fake.click(guild.id, alice.id, prompt, "checkin:answer")
    second = await fake.click(guild.id, alice.id, prompt, "checkin:answer")
    modals = await asyncio.gather(first.modal(), second.modal())
    assert [m["title"] for m in modals] == ["Weekly check-in"] * 2
    values = {"checkin:learned": "joins\x00 and windows", "checkin:hours": "2"}
    saved = await fake.submit_modal(guild.id, alice.id, modals[0]["custom_id"], values)
    again = await fake.submit_modal(guild.id, alice.id, modals[1]["custom_id"], values)
    texts = await both(saved, again)
    # Both are answered; whichever is stored second replaces the first.
    assert sorted("replaced" in t for t in texts) == [False, True]
    _, text = await world.run(alice, "checkin history")
    assert "joins and windows" in text and "\x00" not in text


async def test_late_clicks_after_a_restart_are_told_the_view_expired(world: World) -> None:
    fake, alice, guild = world.fake, world.alice, world.guild
    world.clock.set(T0)
    await world.run(
        world.admin,
        "config checkins",
        channel=world.channel.id,
        day=3,
        time="18:00",
        timezone="Europe/Berlin",
    )
    await world.run(world.admin, "config checkin-now")
    (prompt,) = [m for m in fake.channel_messages(world.channel.id) if m.get("components")]
    form = await (await fake.click(guild.id, alice.id, prompt, "checkin:answer")).modal()
    listing, _ = await world.run(alice, "milestone list")
    confirm, _ = await world.run(alice, "mydata delete")
    checklist, _ = await world.run(alice, "milestone checklist", level=1)
    await world.restart()

    clicks = [
        await fake.click(guild.id, alice.id, listing.message, button_id(listing.message, "Next")),
        await fake.click(
            guild.id, alice.id, confirm.message, button_id(confirm.message, "Delete my data")
        ),
        await fake.select(
            guild.id, alice.id, checklist.message, select_of(checklist.message)["custom_id"], []
        ),
    ]
    for text, res in zip(await both(*clicks), clicks, strict=True):
        assert text == EXPIRED and res.ephemeral
    values = {"checkin:learned": "what I wrote before the restart", "checkin:hours": "1"}
    late_form = await fake.submit_modal(guild.id, alice.id, form["custom_id"], values)
    (text,) = await both(late_form)
    assert text.startswith(FORM_EXPIRED) and "> what I wrote before the restart" in text
    # The persistent Answer button works across the restart.
    again = await fake.click(guild.id, alice.id, prompt, "checkin:answer")
    assert (await again.modal())["title"] == "Weekly check-in"


async def test_leaderboard_pages_keep_turning_after_a_restart_and_only_for_their_owner(
    world: World,
) -> None:
    """The page buttons carry their state (period, moment, page): nothing to lose at a
    restart, and nothing kept in memory for each answer."""
    assert world.bot is not None
    fake, alice, guild = world.fake, world.alice, world.guild
    await world.run(world.admin, "config cards", state="off")
    world.clock.set(T0)
    item = world.roadmap.items[0].id
    for n in range(12):
        await world.bot.services.progress.complete(
            guild.id, 9000 + n, item, display_name=f"member{n:02d}"
        )
    board, text = await world.run(alice, "leaderboard", period="week")
    assert "12 members · page 1/2" in text
    world.clock.set(T0 + dt.timedelta(days=8))  # next week: the board keeps its own week
    await world.restart()

    turned = await fake.click(guild.id, alice.id, board.message, button_id(board.message, "Next"))
    page2 = await turned.final()
    assert "12 members · page 2/2" in turned.text() and "member11" in turned.text()
    stranger = await fake.click(guild.id, world.bob.id, page2, button_id(page2, "Previous"))
    await stranger.final()
    assert stranger.ephemeral and "belong to whoever ran the command" in stranger.text()
    back = await fake.click(guild.id, alice.id, page2, button_id(page2, "Previous"))
    await back.final()
    assert "page 1/2" in back.text() and "member00" in back.text()
