"""End to end: once a stop has begun, every kind of interaction is answered, none is run.

The stop itself, with work in flight, is tested on a real process in tests/test_stopping.py.
"""

from __future__ import annotations

import datetime as dt

from bot.inflight import RESTARTING
from tests.e2e.harness import World, button_id

T0 = dt.datetime(2030, 3, 4, 12, 0, tzinfo=dt.UTC)  # Far from any real-time APScheduler run.


async def test_a_stopping_bot_answers_commands_clicks_forms_and_autocomplete(
    world: World,
) -> None:
    fake, guild, alice, bot = world.fake, world.guild, world.alice, world.bot
    assert bot is not None
    world.clock.set(T0)
    res, text = await world.run(
        world.admin,
        "config checkins",
        channel=world.channel.id,
        day=3,
        time="18:00",
        timezone="UTC",
    )
    assert "Weekly check-ins in" in text, text
    await world.run(world.admin, "config checkin-now")
    prompt = next(
        m
        for m in fake.channel_messages(world.channel.id)
        if any("Weekly check-in" in (e.get("title") or "") for e in m.get("embeds") or [])
    )
    form = await (await fake.slash(guild.id, alice.id, "checkin answer", {})).modal()
    pages, _ = await world.run(alice, "milestone list")
    assert pages.message is not None

    bot.inflight.stopping = True  # What a stop does first.

    item = world.roadmap.checklist(1)[0]
    answers = [
        await fake.slash(guild.id, alice.id, "milestone complete", {"milestone": item.id}),
        await fake.click(guild.id, alice.id, pages.message, button_id(pages.message, "Next")),
        await fake.click(guild.id, alice.id, prompt, "checkin:answer"),
        await fake.submit_modal(
            guild.id,
            alice.id,
            form["custom_id"],
            {"checkin:learned": "Spark joins", "checkin:hours": "2"},
        ),
    ]
    for res in answers:
        await res.final()
        assert res.ephemeral and res.text() == RESTARTING, res
    choices = await (
        await fake.autocomplete(
            guild.id, alice.id, "milestone complete", {"milestone": "spark"}, focused="milestone"
        )
    ).choices()
    assert choices == []
    bot.inflight.stopping = False
    assert not await bot.services.progress.done_ids(guild.id, alice.id)
    _, status = await world.run(alice, "checkin status")
    assert "**0** member(s) answered" in status
