"""End to end: weekly check-ins (prompt, form, summary, nudges) and restarts/processes.

The fake clock is set to fixed dates in 2030 so that APScheduler's real-time jobs never fire
during a test: every run happens through an explicit `scheduler.run_due`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from pydantic import SecretStr

from bot.bot import MilestoneBot
from bot.config import Settings
from bot.db import Database
from bot.weekly import local_to_utc, parse_stored_time
from tests.e2e.harness import MANAGE_GUILD, World, button_id
from tests.fakediscord import FakeChannel, FakeMember
from tests.fakediscord.interaction import InteractionResult, message_text

UTC = dt.UTC
# Monday 4 March 2030; Berlin is UTC+1 until the end of March.
MONDAY = dt.date(2030, 3, 4)
T0 = dt.datetime(2030, 3, 4, 12, 0, tzinfo=UTC)
BERLIN = "Europe/Berlin"


# --- helpers ----------------------------------------------------------------------------


def titles(message: dict[str, Any]) -> list[str]:
    return [e.get("title") or "" for e in message.get("embeds") or []]


def prompts(world: World, channel_id: int | None = None) -> list[dict[str, Any]]:
    cid = channel_id if channel_id is not None else world.channel.id
    return [m for m in world.fake.channel_messages(cid) if "Weekly check-in" in titles(m)]


def summaries(world: World, channel_id: int | None = None) -> list[dict[str, Any]]:
    cid = channel_id if channel_id is not None else world.channel.id
    return [
        m
        for m in world.fake.channel_messages(cid)
        if any(t.startswith("Check-in closed") for t in titles(m))
    ]


def nudges(world: World, member: FakeMember) -> list[dict[str, Any]]:
    return [
        m
        for m in world.fake.dms(member.id)
        if any(t.startswith("Check-in reminder") for t in titles(m))
    ]


async def run_due(world: World, at: dt.datetime | None = None) -> list[Any]:
    """Move the clock (optionally) and run what is due, as the scheduler's jobs would."""
    assert world.bot is not None
    if at is not None:
        world.clock.set(at)
    return await world.bot.scheduler.run_due(world.clock.now())


async def admin_run(
    world: World,
    command: str,
    *,
    guild_id: int | None = None,
    admin: FakeMember | None = None,
    where: FakeChannel | None = None,
    **options: Any,
) -> tuple[InteractionResult, str]:
    res = await world.fake.slash(
        guild_id or world.guild.id,
        (admin or world.admin).id,
        command,
        options,
        (where or world.channel).id,
    )
    await res.final()
    return res, res.text()


async def configure_checkins(
    world: World,
    *,
    day: int = 0,
    time: str = "18:00",
    timezone: str = BERLIN,
    open_hours: int = 48,
    guild_id: int | None = None,
    admin: FakeMember | None = None,
    channel: FakeChannel | None = None,
) -> str:
    ch = channel or world.channel
    res, text = await admin_run(
        world,
        "config checkins",
        guild_id=guild_id,
        admin=admin,
        where=ch,
        channel=ch.id,
        day=day,
        time=time,
        timezone=timezone,
        open_hours=open_hours,
    )
    assert res.ephemeral and "Weekly check-ins in" in text, text
    return text


def field_value(modal: dict[str, Any], custom_id: str) -> str | None:
    stack = list(modal.get("components") or [])
    while stack:
        comp = stack.pop(0)
        if comp.get("custom_id") == custom_id:
            return comp.get("value")
        stack.extend(comp.get("components") or [])
        if isinstance(comp.get("component"), dict):
            stack.append(comp["component"])
    raise AssertionError(f"no field {custom_id} in modal")


async def open_form(world: World, member: FakeMember) -> dict[str, Any]:
    res = await world.fake.slash(world.guild.id, member.id, "checkin answer", {}, world.channel.id)
    return await res.modal()


async def submit(
    world: World,
    member: FakeMember,
    modal: dict[str, Any],
    *,
    learned: str = "Spark joins",
    hours: str = "2,5",
    **more: str,
) -> tuple[InteractionResult, str]:
    values = {"checkin:learned": learned, "checkin:hours": hours}
    values.update({f"checkin:{k}": v for k, v in more.items()})
    res = await world.fake.submit_modal(world.guild.id, member.id, modal["custom_id"], values)
    await res.final()
    return res, res.text()


async def answer(world: World, member: FakeMember, **kwargs: str) -> str:
    res, text = await submit(world, member, await open_form(world, member), **kwargs)
    assert res.ephemeral and "✅" in text, text
    return text


def berlin(day: dt.date, hhmm: str) -> dt.datetime:
    return local_to_utc(day, parse_stored_time(hhmm), BERLIN)


# --- 1. the whole flow ------------------------------------------------------------------


async def test_checkin_now_answer_close_summary_history(world: World) -> None:
    fake, alice = world.fake, world.alice
    world.clock.set(T0)
    await configure_checkins(world, day=3)  # Thursdays: nothing scheduled in this test
    res, text = await admin_run(world, "config checkin-now")
    assert res.ephemeral and "Check-in opened" in text

    [prompt] = prompts(world)
    assert "Press **Answer**" in message_text(prompt)
    click = await fake.click(world.guild.id, alice.id, prompt, button_id(prompt, "Answer"))
    assert button_id(prompt, "Answer") == "checkin:answer"
    modal = await click.modal()
    assert click.type == 9
    assert field_value(modal, "checkin:learned") in (None, "")

    sub, text = await submit(world, alice, modal, learned="Window functions", built="a DAG")
    assert sub.ephemeral and "saved your answer" in text and "2.5 h" in text

    res, text = await world.run(alice, "checkin status")
    assert res.ephemeral and "**1** member(s) answered" in text

    world.clock.advance(dt.timedelta(hours=48, minutes=1))
    results = await run_due(world)
    assert [r.status for r in results if r.kind == "checkin-close"] == ["done"]
    [summary] = summaries(world)
    text = message_text(summary)
    assert "**1** member(s) answered" in text
    assert "**2.5 h** spent learning" in text
    assert f"<@{alice.id}> · 1 week(s)" in text
    # Streaks name members without pinging them.
    assert not (summary.get("mentions") or [])

    res, text = await world.run(alice, "checkin history")
    assert res.ephemeral
    assert "Streak: **1** week(s)" in text and "1 answer(s)" in text
    assert "Window functions" in text and "a DAG" in text and "2.5 h" in text

    # The cycle is closed: a second run changes nothing.
    await run_due(world)
    assert len(summaries(world)) == 1

    # The prompt's button still answers, with what to do instead of a failed interaction.
    late = await fake.click(world.guild.id, alice.id, prompt, "checkin:answer")
    await late.final()
    assert late.ephemeral and "No check-in is open right now" in late.text()


# --- 2. resubmission, pre-fill, bad hours -----------------------------------------------


async def test_resubmission_replaces_and_form_is_prefilled(world: World) -> None:
    alice, bob = world.alice, world.bob
    world.clock.set(T0)
    await configure_checkins(world, day=3)
    await admin_run(world, "config checkin-now")

    await answer(world, alice, learned="first try", hours="1")
    modal = await open_form(world, alice)
    assert field_value(modal, "checkin:learned") == "first try"
    assert field_value(modal, "checkin:hours") == "1"
    res, text = await submit(world, alice, modal, learned="second try", hours="3")
    assert res.ephemeral and "replaced your earlier answer" in text and "3 h" in text

    # Bad hours: an ephemeral error that says what to do and echoes the text; nothing saved.
    res, text = await submit(
        world, bob, await open_form(world, bob), learned="dbt tests", hours="lots"
    )
    assert res.ephemeral
    assert "Hours must be a number" in text and "for example 3 or 2.5" in text
    assert "`lots`" in text and "not saved" in text and "dbt tests" in text

    res, text = await world.run(alice, "checkin status")
    assert "**1** member(s) answered" in text
    res, text = await world.run(bob, "checkin history")
    assert "0 answer(s)" in text
    res, text = await world.run(alice, "checkin history")
    assert "1 answer(s)" in text and "second try" in text and "first try" not in text


# --- 3. no open cycle -------------------------------------------------------------------


async def test_answer_without_open_cycle_explains(world: World) -> None:
    world.clock.set(T0)
    res, text = await world.run(world.alice, "checkin answer")
    assert res.ephemeral and res.type != 9
    assert "/config checkins" in text

    _, text = await world.run(world.alice, "checkin status")
    assert "/config checkins" in text

    await configure_checkins(world, day=2, time="18:00")  # Wednesday 6 March 18:00 Berlin
    res, text = await world.run(world.alice, "checkin answer")
    assert res.ephemeral and res.type != 9
    opens = berlin(MONDAY + dt.timedelta(days=2), "18:00")
    assert "No check-in is open" in text and "next one opens" in text
    assert str(int(opens.timestamp())) in text


# --- 4. nudges --------------------------------------------------------------------------


async def test_nudges_only_recent_subscribed_unanswered_present_members(world: World) -> None:
    fake, guild = world.fake, world.guild
    a, b = world.alice, world.bob
    c = fake.add_member(guild.id, name="carol")
    d = fake.add_member(guild.id, name="dave")
    world.clock.set(T0)
    await configure_checkins(world, day=0, time="18:00", open_hours=48)
    for member in (a, b, c, d):
        # Fridays: the members' own reminder DMs never fall due in this test.
        res, _ = await world.run(member, "reminders subscribe", day=4, time="09:00")
        assert res.ephemeral

    # Week 1: opens Monday 18:00 Berlin (17:00 UTC).
    open1 = berlin(MONDAY, "18:00")
    assert open1 == dt.datetime(2030, 3, 4, 17, 0, tzinfo=UTC)
    await run_due(world, open1 + dt.timedelta(seconds=30))
    assert len(prompts(world)) == 1
    for member in (a, b, d):
        await answer(world, member)
    await run_due(world, open1 + dt.timedelta(hours=36))  # week 1's nudge: no earlier cycle
    await run_due(world, open1 + dt.timedelta(hours=48, seconds=1))
    assert len(summaries(world)) == 1
    res, text = await world.run(d, "checkin away", until="2030-03-20")
    assert res.ephemeral and "Away until 2030-03-20" in text, text

    # Week 2.
    open2 = berlin(MONDAY + dt.timedelta(weeks=1), "18:00")
    await run_due(world, open2 + dt.timedelta(minutes=1))
    assert len(prompts(world)) == 2
    await answer(world, b)
    nudge_at = open2 + dt.timedelta(hours=36)  # 12 h before the close
    await run_due(world, nudge_at - dt.timedelta(minutes=1))
    assert not nudges(world, a)
    await run_due(world, nudge_at)
    assert len(nudges(world, a)) == 1
    text = message_text(nudges(world, a)[0])
    assert "Data Guild" in text and "/checkin answer" in text
    assert not nudges(world, b) and not nudges(world, c) and not nudges(world, d)

    await run_due(world, nudge_at)
    await run_due(world, nudge_at + dt.timedelta(hours=1))
    assert len(nudges(world, a)) == 1
    assert [len(fake.dms(m.id)) for m in (b, c, d)] == [0, 0, 0]

    # Away weeks keep D's streak (week 1 answered, week 2 away).
    await run_due(world, open2 + dt.timedelta(hours=48, seconds=1))
    res, text = await world.run(d, "checkin history")
    assert "Streak: **1** week(s)" in text
    res, text = await world.run(b, "checkin history")
    assert "Streak: **2** week(s)" in text


# --- 5. restarts ------------------------------------------------------------------------


async def test_restart_across_due_time_posts_once(world: World) -> None:
    world.clock.set(T0)
    await configure_checkins(world, day=0, time="18:00", open_hours=48)
    await world.stop_bot()
    world.clock.set(berlin(MONDAY, "18:00") + dt.timedelta(hours=3))  # late, inside the window
    await world.start_bot()
    assert len(prompts(world)) == 1
    await world.restart()
    assert len(prompts(world)) == 1
    await run_due(world)
    assert len(prompts(world)) == 1
    _, text = await world.run(world.alice, "checkin status")
    assert "A check-in is open" in text


async def test_due_time_missed_beyond_window_is_skipped(world: World) -> None:
    world.clock.set(T0)
    await configure_checkins(world, day=0, time="18:00", open_hours=48)
    await world.stop_bot()
    world.clock.set(berlin(MONDAY, "18:00") + dt.timedelta(hours=49))
    await world.start_bot()
    assert prompts(world) == []
    await run_due(world)
    assert prompts(world) == []
    res, text = await world.run(world.alice, "checkin answer")
    assert res.ephemeral and "No check-in is open" in text
    # The next week's cycle still opens.
    await run_due(world, berlin(MONDAY + dt.timedelta(weeks=1), "18:00"))
    assert len(prompts(world)) == 1


# --- 6. two processes -------------------------------------------------------------------


async def test_two_processes_post_one_prompt(world: World) -> None:
    world.clock.set(T0)
    await configure_checkins(world, day=0, time="18:00")
    config = Settings(DISCORD_TOKEN=SecretStr("fake-token"), DATABASE_URL=world.db_url)
    second = MilestoneBot(
        config, Database(world.db_url), world.roadmap, clock=world.clock, guild_ready_timeout=0.1
    )
    task = asyncio.create_task(second.start("fake-token"))
    try:
        await asyncio.wait_for(second.wait_until_ready(), 10)
        assert len(world.fake._conns) == 2
        now = world.clock.set(berlin(MONDAY, "18:00"))
        assert world.bot is not None
        first_runs, second_runs = await asyncio.gather(
            world.bot.scheduler.run_due(now), second.scheduler.run_due(now)
        )
        statuses = sorted(r.status for r in [*first_runs, *second_runs] if r.kind == "checkin-open")
        assert statuses == ["done", "skipped"]
        assert len(prompts(world)) == 1
    finally:
        await second.close()
        await asyncio.wait_for(task, 10)
    # The first process still answers.
    _, text = await world.run(world.alice, "checkin status")
    assert "A check-in is open" in text


# --- 7. failures ------------------------------------------------------------------------


async def test_failure_in_one_server_does_not_stop_another(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    fake = world.fake
    world.clock.set(T0)
    guild_b = fake.add_guild(name="Other Guild")
    channel_b = fake.add_channel(guild_b.id, name="checkins")
    admin_b = fake.add_member(guild_b.id, name="bea", permissions=MANAGE_GUILD)
    await configure_checkins(world, day=0, time="18:00")
    await configure_checkins(
        world, day=0, time="18:00", guild_id=guild_b.id, admin=admin_b, channel=channel_b
    )
    fake.fail("POST", rf"/channels/{world.channel.id}/messages", 403, 50013, "Missing Permissions")

    results = await run_due(world, berlin(MONDAY, "18:00"))
    opens = {r.guild_id: r for r in results if r.kind == "checkin-open"}
    assert opens[world.guild.id].status == "failed"
    assert "Missing Permissions" in (opens[world.guild.id].error or "")
    assert opens[guild_b.id].status == "done"
    assert prompts(world, channel_b.id) and not prompts(world)

    res, text = await world.run(world.admin, "config show")
    assert res.ephemeral and "Last problem" in text and "Missing Permissions" in text
    res, text = await admin_run(
        world, "config show", guild_id=guild_b.id, admin=admin_b, where=channel_b
    )
    assert "Last problem" not in text and "Missing Permissions" not in text
    # Logged with the server and the reason, at WARNING (nothing reached the ERROR log).
    logged = [
        r
        for r in caplog.records
        if r.name == "bot.scheduler.core" and "Missing Permissions" in r.getMessage()
    ]
    assert logged and all(r.levelname == "WARNING" for r in logged)
    assert str(world.guild.id) in logged[0].getMessage()
    assert not world.errors.records


# --- 9./10. admin input and /config show --------------------------------------------------


async def test_config_checkins_bad_input_and_autocomplete(world: World) -> None:
    res, text = await admin_run(
        world,
        "config checkins",
        channel=world.channel.id,
        day=0,
        time="25:00",
        timezone=BERLIN,
    )
    assert res.ephemeral and "Invalid time `25:00`" in text and "HH:MM" in text
    res, text = await admin_run(
        world,
        "config checkins",
        channel=world.channel.id,
        day=0,
        time="18:00",
        timezone="Mars/Olympus",
    )
    assert res.ephemeral and "Unknown timezone 'Mars/Olympus'" in text and BERLIN in text
    res, text = await world.run(world.admin, "config show")
    assert "off: set up with /config checkins" in text

    for query in ("", "europe", "Berl"):
        ac = await world.fake.autocomplete(
            world.guild.id,
            world.admin.id,
            "config checkins",
            {"timezone": query},
            focused="timezone",
        )
        choices = await ac.choices()
        assert 0 < len(choices) <= 25
    assert any(c["value"] == BERLIN for c in choices)


async def test_config_show_lists_schedules_with_next_runs(world: World) -> None:
    world.clock.set(T0)
    await configure_checkins(world, day=0, time="18:00", open_hours=24)
    res, text = await admin_run(
        world, "config reminders", channel=world.channel.id, day=2, time="10:00"
    )
    assert res.ephemeral and "Wednesday at 10:00" in text
    res, text = await world.run(world.admin, "config show")
    assert res.ephemeral
    assert "Weekly check-ins" in text and "every Monday 18:00 (Europe/Berlin), open 24 h" in text
    assert "next opens Mon 4 Mar 2030 18:00 (Europe/Berlin)" in text
    assert "Learning reminders" in text and "every Wednesday 10:00" in text
    assert "next Wed 6 Mar 2030 10:00 (Europe/Berlin)" in text

    await admin_run(world, "config checkins-disable")
    await admin_run(world, "config reminders-disable")
    res, text = await world.run(world.admin, "config show")
    assert "off: set up with /config checkins" in text
    assert "off: set up with /config reminders" in text
