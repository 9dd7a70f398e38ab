"""End to end: the weekly continuous-learning post and members' reminder DMs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.e2e.harness import World, eventually, hooks_running
from tests.e2e.test_checkins import admin_run, run_due, titles
from tests.fakediscord import FakeMember
from tests.fakediscord.interaction import message_text

UTC = dt.UTC
SUNDAY = dt.datetime(2030, 3, 3, 12, 0, tzinfo=UTC)
MONDAY_9 = dt.datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
MONDAY_10 = dt.datetime(2030, 3, 4, 10, 0, tzinfo=UTC)
WEEK = dt.timedelta(weeks=1)
DM_FAILED = "could not DM you"


def reminder_posts(world: World) -> list[dict[str, Any]]:
    return [
        m
        for m in world.fake.channel_messages(world.channel.id)
        if any(t.startswith("Keep learning") for t in titles(m))
    ]


def dm_attempts(world: World, member: FakeMember) -> int:
    channel = world.fake.dm_channels.get(member.id)
    if channel is None:
        return 0
    return len(world.fake.requests_to("POST", rf"/channels/{channel.id}/messages"))


async def run_settled(world: World, member: FakeMember, command: str, **options: Any) -> Any:
    """Run a command and wait for the bot's after-command hook (the DM-failure notice)."""
    res, _ = await world.run(member, command, **options)
    await eventually(lambda: not hooks_running())
    return res


async def test_channel_reminder_rotates_principles(world: World) -> None:
    world.clock.set(SUNDAY)
    res, text = await admin_run(
        world, "config reminders", channel=world.channel.id, day=0, time="10:00"
    )
    assert res.ephemeral and "Monday at 10:00 (UTC)" in text
    names = {p.name for p in world.roadmap.principles}
    assert len(names) == 5

    await run_due(world, MONDAY_10 - dt.timedelta(minutes=1))
    assert reminder_posts(world) == []
    await run_due(world, MONDAY_10)
    await run_due(world, MONDAY_10 + dt.timedelta(hours=1))
    [first] = reminder_posts(world)
    await run_due(world, MONDAY_10 + WEEK)
    assert len(reminder_posts(world)) == 2
    second = reminder_posts(world)[1]

    def principle(message: dict[str, Any]) -> str:
        [title] = titles(message)
        name = title.removeprefix("Keep learning · ")
        assert name in names
        return name

    assert principle(first) != principle(second)
    p = next(p for p in world.roadmap.principles if p.name == principle(first))
    assert p.description in message_text(first)
    assert "/milestone list" in message_text(first)


async def test_member_reminder_dms_and_closed_dms(world: World) -> None:
    fake, alice, bob = world.fake, world.alice, world.bob
    carol = fake.add_member(world.guild.id, name="carol")
    world.clock.set(SUNDAY)
    await admin_run(world, "config reminders", channel=world.channel.id, day=0, time="10:00")
    for member in (alice, bob, carol):
        res, text = await world.run(member, "reminders subscribe", day=0, time="09:00")
        assert res.ephemeral and "Every **Monday at 09:00** (UTC)" in text
        assert "Next: Mon 4 Mar 2030 09:00 (UTC)" in text
    fake.close_dms(bob.id)
    fake.close_dms(carol.id)

    # Monday 09:00: Alice gets her next checklist items; Bob's and Carol's DMs fail.
    await run_due(world, MONDAY_9)
    [dm] = fake.dms(alice.id)
    text = message_text(dm)
    assert "Your weekly nudge from Data Guild" in text
    assert "Next on your checklist" in text
    for item in world.roadmap.checklist(1)[:3]:
        assert item.title in text
    assert any(p.name in text for p in world.roadmap.principles)
    assert dm_attempts(world, bob) == 1 and dm_attempts(world, carol) == 1
    assert not world.errors.records

    # Carol uses a command before the channel post: she is told there, once.
    res = await run_settled(world, carol, "reminders status")
    assert res.ephemeral and "My last DM to you failed" in res.text()
    [notice] = res.followup_messages
    assert DM_FAILED in message_text(notice) and "/reminders subscribe" in message_text(notice)
    assert int(notice.get("flags") or 0) & 64
    res = await run_settled(world, carol, "levels")
    assert res.followup_messages == []

    # The channel post tells Bob (who has not used a command), not Carol again.
    await run_due(world, MONDAY_10)
    [post] = reminder_posts(world)
    assert f"<@{bob.id}>" in post["content"] and DM_FAILED in post["content"]
    assert f"<@{carol.id}>" not in post["content"]
    res = await run_settled(world, bob, "levels")
    assert res.followup_messages == []

    # Next week: Alice again; no retry for Bob and Carol, and nobody is told twice.
    await run_due(world, MONDAY_9 + WEEK)
    await run_due(world, MONDAY_10 + WEEK)
    assert len(fake.dms(alice.id)) == 2
    assert dm_attempts(world, bob) == 1 and dm_attempts(world, carol) == 1
    assert not (reminder_posts(world)[1].get("content") or "")
    for member in (bob, carol):
        res = await run_settled(world, member, "levels")
        assert res.followup_messages == []

    # Subscribing again after fixing the setting retries.
    fake.close_dms(bob.id, closed=False)
    await world.run(bob, "reminders subscribe")
    await run_due(world, MONDAY_9 + 2 * WEEK)
    assert len(fake.dms(bob.id)) == 1


async def test_reminders_status_and_unsubscribe(world: World) -> None:
    alice = world.alice
    world.clock.set(SUNDAY)
    res, text = await world.run(alice, "reminders status")
    assert res.ephemeral and "You get no reminder DMs" in text
    await world.run(alice, "profile", timezone="Europe/Berlin")
    res, text = await world.run(alice, "reminders subscribe", day=2, time="07:30")
    assert "Every **Wednesday at 07:30** (Europe/Berlin)" in text
    res, text = await world.run(alice, "reminders status")
    assert "Next: Wed 6 Mar 2030 07:30 (Europe/Berlin)" in text

    await run_due(world, dt.datetime(2030, 3, 6, 6, 30, tzinfo=UTC))  # 07:30 in Berlin
    assert len(world.fake.dms(alice.id)) == 1

    res, text = await world.run(alice, "reminders unsubscribe")
    assert res.ephemeral and "Reminder DMs stopped" in text
    res, text = await world.run(alice, "reminders unsubscribe")
    assert "You were not subscribed" in text
    res, text = await world.run(alice, "reminders status")
    assert "You get no reminder DMs" in text
    await run_due(world, dt.datetime(2030, 3, 13, 6, 30, tzinfo=UTC))
    assert len(world.fake.dms(alice.id)) == 1
