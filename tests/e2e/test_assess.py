"""End to end: `/assess rate` (the ephemeral flow), `/assess history`, and their error paths."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.e2e.harness import World, button_id, select_of
from tests.fakediscord import FakeMember

Message = dict[str, Any]


async def start(world: World, member: FakeMember) -> tuple[Message, str]:
    res, text = await world.run(member, "assess rate")
    assert res.ephemeral
    assert res.message is not None
    return res.message, text


async def pick(
    world: World, member: FakeMember, message: Message, value: str
) -> tuple[Message, str]:
    select = select_of(message)
    res = await world.fake.select(world.guild.id, member.id, message, select["custom_id"], [value])
    await res.final()
    assert res.message is not None
    return res.message, res.text()


async def press(
    world: World, member: FakeMember, message: Message, label: str
) -> tuple[Message, str]:
    res = await world.fake.click(world.guild.id, member.id, message, button_id(message, label))
    await res.final()
    assert res.message is not None
    return res.message, res.text()


def buttons(message: Message) -> dict[str, bool]:
    """Label -> disabled, for every button of the message."""
    return {
        c["label"]: bool(c.get("disabled"))
        for row in message.get("components") or []
        for c in row.get("components") or []
        if c.get("type") == 2
    }


async def history(world: World, caller: FakeMember, **options: Any) -> tuple[Any, str]:
    return await world.run(caller, "assess history", **options)


async def test_rate_every_metric_group_by_group_then_save_and_see_the_trend(world: World) -> None:
    alice, metrics = world.alice, world.roadmap.metrics
    message, text = await start(world, alice)
    seen = []
    for n, metric in enumerate(metrics):
        # Each page names the metric and says what a 1 and a 5 mean; its select spells them too.
        assert f"**{metric.name}**: {metric.description}" in text
        assert f"**1** · {metric.low}" in text and f"**5** · {metric.high}" in text
        assert f"Self-assessment · {metric.group}" in text
        assert f"Metric {n + 1} of 15" in text
        labels = [o["label"] for o in select_of(message)["options"]]
        assert labels[0].startswith("1 · ") and labels[4].startswith("5 · ")
        assert labels[-1] == "Skip this metric"
        seen.append(metric.name)
        value = "skip" if metric.id == "professional.compensation-growth" else str(1 + n % 5)
        message, text = await pick(world, alice, message, value)
    assert seen == [m.name for m in metrics]
    assert "**14** of 15 metrics rated" in text
    assert "Compensation Growth: not rated" in text
    assert buttons(message) == {"Save": False, "◀ Back": False, "Cancel": False}
    message, text = await press(world, alice, message, "Save")
    today = world.clock.now().date().isoformat()
    assert f"Saved your assessment of {today}: 14 of 15 metrics rated." in text
    assert message.get("components") in (None, [])

    _, text = await history(world, alice)
    assert "1 assessment(s)" in text
    assert "Skill Assessments: **1** · first rating" in text
    assert "Compensation Growth: not rated" in text

    # Again the same day, with one metric changed: it replaces that day's assessment.
    message, _ = await start(world, alice)
    message, text = await pick(world, alice, message, "4")
    assert f"**2** on {today}" in text  # the second metric's rating saved earlier today
    for _ in metrics[1:]:
        message, _ = await pick(world, alice, message, "skip")
    message, text = await press(world, alice, message, "Save")
    assert "1 of 15 metrics rated, replacing the one you saved earlier today." in text
    assert "Missing from it: Professional Growth, Impact." in text
    _, text = await history(world, alice)
    assert "1 assessment(s)" in text and "Skill Assessments: **4** · first rating" in text


async def test_a_group_left_out_is_reported_missing_and_history_shows_arrows(
    world: World,
) -> None:
    alice, metrics = world.alice, world.roadmap.metrics
    first_day = world.clock.now()
    message, _ = await start(world, alice)
    for _ in metrics:
        message, _ = await pick(world, alice, message, "3")
    await press(world, alice, message, "Save")

    world.clock.set(first_day + dt.timedelta(days=30))
    message, text = await start(world, alice)
    assert "Last time" in text and f"**3** on {first_day.date().isoformat()}" in text
    message, _ = await pick(world, alice, message, "4")  # Skill Assessments up
    message, _ = await pick(world, alice, message, "2")  # Certification Achievements down
    message, text = await press(world, alice, message, "Skip the rest of Technical Competency")
    assert "Self-assessment · Professional Growth (1/5)" in text
    message, text = await press(world, alice, message, "Skip the rest of Professional Growth")
    message, text = await press(world, alice, message, "Skip the rest of Impact")
    assert "Professional Growth · left out" in text and "Impact · left out" in text
    assert "**2** of 15 metrics rated" in text
    message, text = await press(world, alice, message, "Save")
    assert "Missing from it: Professional Growth, Impact." in text

    _, text = await history(world, alice)
    assert "2 assessment(s)" in text
    assert "Skill Assessments: **4** · ↑ from 3 · ↑ from 3 first" in text
    assert "Certification Achievements: **2** · ↓ from 3 · ↓ from 3 first" in text
    # A left-out metric shows the last rating given, with its own (older) date.
    assert f"Leadership Scope: **3** (on {first_day.date().isoformat()}) · first rating" in text


async def test_abandoned_or_cancelled_half_way_saves_nothing(world: World) -> None:
    alice = world.alice
    message, _ = await start(world, alice)
    for value in ("5", "4", "3"):
        message, _ = await pick(world, alice, message, value)
    # Walking away now (the flow times out) leaves nothing behind: nothing is written yet.
    _, text = await history(world, alice)
    assert "No self-assessment yet" in text
    message, text = await press(world, alice, message, "◀ Back")
    assert "Metric 3 of 15" in text
    message, text = await press(world, alice, message, "Cancel")
    assert "Nothing was saved" in text
    _, text = await history(world, alice)
    assert "No self-assessment yet" in text
    assert world.bot is not None
    data = await world.bot.services.mydata.export(world.guild.id, alice.id)
    assert data["assessments"] == []


async def test_nothing_rated_cannot_be_saved_and_others_cannot_press(world: World) -> None:
    alice, bob = world.alice, world.bob
    message, _ = await start(world, alice)
    intruder = await world.fake.click(
        world.guild.id, bob.id, message, button_id(message, "Skip the rest")
    )
    await intruder.final()
    assert intruder.ephemeral and "belong to whoever ran the command" in intruder.text()
    for group in ("Technical Competency", "Professional Growth", "Impact"):
        message, text = await press(world, alice, message, f"Skip the rest of {group}")
    assert "**0** of 15 metrics rated" in text and "Rate at least one metric" in text
    assert buttons(message)["Save"] is True  # disabled


async def test_history_of_another_member_unless_hidden(world: World) -> None:
    alice, bob = world.alice, world.bob
    res, text = await history(world, alice, member=bob)
    assert res.ephemeral and "bob has not rated themselves yet" in text
    message, _ = await start(world, bob)
    message, _ = await pick(world, bob, message, "2")
    message, _ = await press(world, bob, message, "Skip the rest of Technical Competency")
    message, _ = await press(world, bob, message, "Skip the rest of Professional Growth")
    message, _ = await press(world, bob, message, "Skip the rest of Impact")
    await press(world, bob, message, "Save")
    _, text = await history(world, alice, member=bob)
    assert "Self-assessment of bob" in text and "Skill Assessments: **2**" in text
    await world.run(bob, "profile", hidden=True)
    res, text = await history(world, alice, member=bob)
    assert res.ephemeral and "hidden from the leaderboards" in text and "private" in text
    _, text = await history(world, bob)  # their own is always theirs to see
    assert "Skill Assessments: **2**" in text
