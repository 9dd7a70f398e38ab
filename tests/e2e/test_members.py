"""End to end: what members see with /levels, /level, /roadmap, /progress, /profile,
/leaderboard and /mydata, including their error paths."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.roadmap import CATEGORY_LABELS, MILESTONE_CATEGORIES
from bot.ui.replies import SORRY
from tests.e2e.harness import World, button_id, eventually
from tests.fakediscord import FakeMember

MESSAGE_PATHS = (
    r"/interactions/\d+/[^/]+/callback",
    r"/webhooks/\d+/[^/]+(/messages/[^/]+)?",
    r"/channels/\d+/messages(/\d+)?",
)


async def complete(world: World, member: FakeMember, *item_ids: str) -> None:
    """Set up progress straight through the service (fast; no Discord side effects)."""
    assert world.bot is not None
    for item_id in item_ids:
        await world.bot.services.progress.complete(
            world.guild.id, member.id, item_id, display_name=member.name
        )


def checklist_ids(world: World, level: int) -> list[str]:
    return [i.id for i in world.roadmap.checklist(level)]


def message_bodies(world: World) -> list[dict[str, Any]]:
    """Every message body (content or embeds) the bot sent or edited over REST."""
    out = []
    for req in world.fake.requests:
        if req.method not in ("POST", "PATCH") or not isinstance(req.json, dict):
            continue
        if not any(re.fullmatch(p, req.path) for p in MESSAGE_PATHS):
            continue
        body = req.json.get("data") if req.path.endswith("/callback") else req.json
        if isinstance(body, dict) and ("content" in body or "embeds" in body):
            out.append(body)
    return out


# ------------------------------------------------------------------ /levels, /level, /roadmap


async def test_levels_marks_where_you_are_and_the_next_checklist(world: World) -> None:
    alice = world.alice
    await complete(world, alice, *checklist_ids(world, 1)[:2])
    res, text = await world.run(alice, "levels")
    assert res.ephemeral
    lines = text.splitlines()
    here = [line for line in lines if "you are here" in line]
    assert here == ["**0** · Senior Data Analyst (start) ◀ **you are here**"]
    assert "Into Level 1 · Junior Data Engineer" in text
    assert "Checklist ▰▰▰▱▱▱▱▱▱▱ 2/7" in text
    assert "`/level level:1`" in text

    await complete(world, alice, *checklist_ids(world, 1)[2:])
    res, text = await world.run(alice, "levels")
    here = [line for line in text.splitlines() if "you are here" in line]
    assert len(here) == 1 and here[0].startswith("**1** · Junior Data Engineer")
    assert "Into Level 2 · Data Engineer" in text and "Checklist ▱▱▱▱▱▱▱▱▱▱ 0/8" in text


async def test_level_shows_categories_checklist_focus_and_activities(world: World) -> None:
    alice, roadmap = world.alice, world.roadmap
    lvl = roadmap.level(2)
    done_item = roadmap.checklist(2)[1]
    done_milestone = lvl.milestones["technical"][0]
    await complete(world, alice, done_item.id, done_milestone.id)
    res, text = await world.run(alice, "level", level=2)
    assert res.ephemeral
    assert "Level 2 · Data Engineer" in text
    assert "Junior Data Engineer → Data Engineer" in text and "6-12 months" in text
    assert f"**Focus:** {roadmap.phases[1].focus}" in text
    assert "Key transition activities" in text and roadmap.phases[1].activities[0] in text
    for category in MILESTONE_CATEGORIES:
        assert CATEGORY_LABELS[category] in text, category
    assert f"{CATEGORY_LABELS['technical']} (1/" in text
    assert "Checklist (1/8): gates the level" in text
    assert f"✅ {done_item.title}" in text
    assert f"✅ {done_milestone.title}" in text
    for item in roadmap.checklist(2):
        if item is not done_item:
            assert f"⬜ {item.title}" in text
    # Bob sees the same level with nothing ticked: marks are per caller.
    _, bob_text = await world.run(world.bob, "level", level=2)
    assert "Checklist (0/8)" in bob_text and f"⬜ {done_item.title}" in bob_text


async def test_level_option_is_limited_to_1_to_5(world: World) -> None:
    level_cmd = next(c for c in world.fake.commands() if c["name"] == "level")
    option = level_cmd["options"][0]
    assert (option["min_value"], option["max_value"]) == (1, 5)


def months_ago(months: int) -> str:
    today = dt.datetime.now(dt.UTC).date()
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    return dt.date(year, month + 1, min(today.day, 28)).isoformat()


async def test_roadmap_pace_without_start_behind_and_ahead(world: World) -> None:
    alice = world.alice
    res, text = await world.run(alice, "roadmap")
    assert res.ephemeral
    assert "/profile started:YYYY-MM-DD" in text
    assert "you are here" not in text
    assert all(p.title in text for p in world.roadmap.phases)

    await world.run(alice, "profile", started=months_ago(8))
    _, text = await world.run(alice, "roadmap")
    assert "Month 8 of your journey" in text
    assert "expects level 1 reached and level 2 under way" in text
    assert "you are at level 0, so you are **behind**" in text
    assert "6-12 months: Junior to Mid-level Data Engineer ◀ you are here" in text

    await complete(world, alice, *checklist_ids(world, 1), *checklist_ids(world, 2))
    _, text = await world.run(alice, "roadmap")
    assert "you are at level 2, so you are **ahead**" in text


# ------------------------------------------------------------------ /progress


async def test_progress_of_self_and_of_another_member(world: World) -> None:
    alice, bob = world.alice, world.bob
    await complete(world, bob, *checklist_ids(world, 1)[:1])
    await complete(world, alice, *checklist_ids(world, 1))
    await complete(world, alice, world.roadmap.level(1).milestones["knowledge"][0].id)
    res, text = await world.run(alice, "progress")
    assert not res.ephemeral  # progress is shared in the channel
    assert "Progress of alice" in text
    assert "**Level 1 · Junior Data Engineer**" in text
    assert "8/130 items done in all" in text
    assert "Server rank: #1" in text
    assert "checklist ▰▰▰▰▰▰▰▰ 7/7" in text
    assert "Recently completed" in text

    _, text = await world.run(alice, "progress", member=bob)
    assert "Progress of bob" in text
    assert "**Level 0 · Senior Data Analyst**" in text
    assert "1/130 items done in all" in text and "Server rank: #2" in text


async def test_progress_of_a_hidden_member_hides_the_rank(world: World) -> None:
    alice, bob = world.alice, world.bob
    await complete(world, bob, *checklist_ids(world, 1)[:3])
    await world.run(bob, "profile", hidden=True)
    _, text = await world.run(alice, "progress", member=bob)
    assert "3/130 items done in all" in text
    assert "Server rank: hidden" in text and "#" not in text.split("Server rank:")[1][:10]
    _, text = await world.run(bob, "progress")
    assert "Server rank: hidden" in text
    _, text = await world.run(alice, "progress")
    assert "Server rank: not ranked yet" in text


async def test_progress_in_a_dm_says_use_it_in_a_server(world: World) -> None:
    # The Discord client hides guild-only commands in DMs; an old client may not, so the
    # bot checks at run time too.
    world.fake.enforce_permissions = False
    try:
        res = await world.fake.slash(None, world.alice.id, "progress")
    finally:
        world.fake.enforce_permissions = True
    await res.final()
    assert res.ephemeral and "Use this in a server" in res.text()


# ------------------------------------------------------------------ /profile


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"started": "31/01/2026"}, "YYYY-MM-DD"),
        ({"started": "2999-01-01"}, "cannot be in the future"),
        ({"timezone": "Mars/Olympus"}, "Europe/Berlin"),
        ({"started": "2025-01-15", "timezone": "Mars/Olympus"}, "Unknown timezone"),
    ],
)
async def test_profile_rejects_bad_input_and_saves_nothing(
    world: World, options: dict[str, str], expected: str
) -> None:
    alice = world.alice
    res, text = await world.run(alice, "profile", **options)
    assert res.ephemeral
    assert expected in text
    assert "Traceback" not in text and "Error" not in text
    assert world.bot is not None
    profile = await world.bot.services.members.profile(world.guild.id, alice.id)
    assert profile.started_on is None and profile.timezone is None
    _, text = await world.run(alice, "profile")
    assert "not set" in text and "(saved)" not in text


async def test_profile_saves_and_shows(world: World) -> None:
    res, text = await world.run(
        world.alice, "profile", started="2025-03-01", timezone="America/New_York", hidden=True
    )
    assert res.ephemeral
    assert "Your profile (saved)" in text
    assert "2025-03-01" in text and "America/New_York" in text and "hidden" in text


async def test_timezone_autocomplete(world: World) -> None:
    fake, alice = world.fake, world.alice
    res = await fake.autocomplete(
        world.guild.id, alice.id, "profile", {"timezone": "berl"}, focused="timezone"
    )
    choices = await res.choices()
    names = [c["value"] for c in choices]
    assert "Europe/Berlin" in names
    assert 1 <= len(names) <= 25
    assert all("berl" in n.lower() for n in names)
    for n in names:
        ZoneInfo(n)  # every suggestion is a real IANA name
    res = await fake.autocomplete(
        world.guild.id, alice.id, "profile", {"timezone": ""}, focused="timezone"
    )
    assert len(await res.choices()) == 25
    res = await fake.autocomplete(
        world.guild.id, alice.id, "profile", {"timezone": "Mars/Olympus"}, focused="timezone"
    )
    assert await res.choices() == []


# ------------------------------------------------------------------ /leaderboard


def order_in(text: str, *names: str) -> list[int]:
    return [text.index(f"**{n}**") for n in names]


async def test_leaderboard_orders_ties_first_come_and_hides(world: World) -> None:
    fake, alice, bob, admin = world.fake, world.alice, world.bob, world.admin
    carol = fake.add_member(world.guild.id, name="carol")
    items = [i.id for i in world.roadmap.items]
    await complete(world, bob, *items[:3])  # bob gets to 3 first...
    await complete(world, alice, *items[3:6])  # ...then alice ties him
    await complete(world, admin, items[0])
    await complete(world, carol, *items[:5])
    await world.run(carol, "profile", hidden=True)

    res, text = await world.run(alice, "leaderboard")
    assert not res.ephemeral
    assert "Leaderboard: all time" in text
    assert "🥇 **bob** · 3 done" in text
    assert "🥈 **alice** · 3 done" in text
    assert "🥉 **ada** · 1 done" in text
    assert order_in(text, "bob", "alice", "ada") == sorted(order_in(text, "bob", "alice", "ada"))
    assert "carol" not in text
    assert "3 members · page 1/1" in text
    assert not (res.message or {}).get("components")  # one page: no buttons

    # Alice's rank agrees with the board; the hidden member stays out of every period.
    _, text = await world.run(alice, "progress")
    assert "Server rank: #2" in text
    _, text = await world.run(alice, "leaderboard", period="week")
    assert "**bob**" in text and "carol" not in text


async def test_leaderboard_pages_with_owner_only_buttons(world: World) -> None:
    assert world.bot is not None
    fake, alice, bob = world.fake, world.alice, world.bob
    first = world.roadmap.items[0].id
    for n in range(11):
        await world.bot.services.progress.complete(
            world.guild.id, 9000 + n, first, display_name=f"member{n:02d}"
        )
    await complete(world, alice, first)
    res, text = await world.run(alice, "leaderboard")
    assert "12 members · page 1/2" in text
    assert "🥇 **member00**" in text and "member10" not in text
    message = res.message
    assert message is not None
    other = await fake.click(world.guild.id, bob.id, message, button_id(message, "Next"))
    await other.final()
    assert other.ephemeral and "belong to whoever ran the command" in other.text()
    turned = await fake.click(world.guild.id, alice.id, message, button_id(message, "Next"))
    await turned.final()
    page2 = turned.text()
    assert "12 members · page 2/2" in page2
    assert "` 11` **member10**" in page2 and "` 12` **alice**" in page2
    assert "member00" not in page2
    back = await fake.click(
        world.guild.id, alice.id, turned.message or message, button_id(message, "Previous")
    )
    await back.final()
    assert "page 1/2" in back.text()


async def test_leaderboard_week_and_month(world: World) -> None:
    alice, bob = world.alice, world.bob
    items = [i.id for i in world.roadmap.items]
    today = world.clock.now()
    world.clock.set(today - dt.timedelta(days=40))
    await complete(world, bob, *items[:5])
    world.clock.set(today)
    await world.run(alice, "milestone complete", milestone=items[10])
    await world.run(alice, "milestone complete", milestone=items[11])

    _, text = await world.run(alice, "leaderboard")
    assert order_in(text, "bob", "alice") == sorted(order_in(text, "bob", "alice"))
    for period, title in (("week", "this week"), ("month", "this month")):
        _, text = await world.run(alice, "leaderboard", period=period)
        assert f"Leaderboard: {title}" in text
        assert "since" in text
        assert "🥇 **alice** · 2 done" in text
        assert "bob" not in text
        assert "page 1/1" in text


async def test_leaderboard_with_nobody_yet(world: World) -> None:
    _, text = await world.run(world.alice, "leaderboard", period="week")
    assert "Nobody has completed anything in this period yet." in text


# ------------------------------------------------------------------ /mydata


async def test_mydata_export_is_this_servers_data_only(world: World) -> None:
    fake, alice = world.fake, world.alice
    other = fake.add_guild(name="Other Guild")
    fake.add_member(other.id, user_id=alice.id)
    assert world.bot is not None
    await eventually(lambda: world.bot is not None and world.bot.get_guild(other.id) is not None)
    other_item = world.roadmap.checklist(3)[0].id
    res = await fake.slash(other.id, alice.id, "milestone complete", {"milestone": other_item})
    await res.final()
    assert "Done" in res.text()
    await world.run(
        alice, "milestone complete", milestone="l1.check.python-training", evidence="github.com/a"
    )
    res, text = await world.run(alice, "mydata export")
    assert res.ephemeral and "everything the bot keeps about you" in text
    assert res.message is not None
    attachment = res.message["attachments"][0]
    assert attachment["filename"].endswith(".json")
    raw = fake.attachment_bytes(attachment)
    data = json.loads(raw)
    assert data["guild_id"] == str(world.guild.id) and data["user_id"] == str(alice.id)
    assert [c["item_id"] for c in data["completions"]] == ["l1.check.python-training"]
    assert data["completions"][0]["evidence"] == "github.com/a"
    assert data["profile"]["display_name"] == "alice"
    assert str(other.id).encode() not in raw
    assert other_item.encode() not in raw
    # Nor does the other server's progress show here.
    _, text = await world.run(alice, "progress")
    assert "1/130 items done in all" in text


async def test_mydata_delete_cancel_then_confirm(world: World) -> None:
    fake, alice = world.fake, world.alice
    role = fake.add_role(world.guild.id, name="Junior DE", position=2)
    await world.run(world.admin, "config level-role", level=1, role=role.id)
    await complete(world, alice, *checklist_ids(world, 1)[:-1])
    await world.run(alice, "milestone complete", milestone=checklist_ids(world, 1)[-1])
    await eventually(lambda: role.id in fake.member_roles(world.guild.id, alice.id))

    res = await fake.slash(world.guild.id, alice.id, "mydata delete", {}, world.channel.id)
    await res.final()
    assert res.ephemeral and "cannot be undone" in res.text()
    assert res.message is not None
    cancel = await fake.click(
        world.guild.id, alice.id, res.message, button_id(res.message, "Cancel")
    )
    await cancel.final()
    assert "Nothing was deleted" in cancel.text()
    _, text = await world.run(alice, "progress")
    assert "7/130 items done in all" in text
    assert role.id in fake.member_roles(world.guild.id, alice.id)

    res = await fake.slash(world.guild.id, alice.id, "mydata delete", {}, world.channel.id)
    await res.final()
    assert res.message is not None
    button = button_id(res.message, "Delete my data")
    intruder = await fake.click(world.guild.id, world.bob.id, res.message, button)
    await intruder.final()
    assert intruder.ephemeral and "belong to whoever ran the command" in intruder.text()
    confirm = await fake.click(world.guild.id, alice.id, res.message, button)
    await confirm.final()
    assert "Deleted: 9 completed item(s) and project(s)" in confirm.text()  # 7 + projects 1-2
    await eventually(lambda: role.id not in fake.member_roles(world.guild.id, alice.id))
    _, text = await world.run(alice, "progress")
    assert "0/130 items done in all" in text and "**Level 0 · Senior Data Analyst**" in text
    assert world.bot is not None
    assert await world.bot.services.progress.done_ids(world.guild.id, alice.id) == set()


# ------------------------------------------------------------------ mentions and errors


async def test_user_text_never_pings(world: World) -> None:
    fake = world.fake
    eve = fake.add_member(world.guild.id, name="eve", nick="@everyone party")
    await world.run(
        eve,
        "milestone complete",
        milestone="l1.check.python-training",
        evidence="@everyone @here look",
    )
    await world.run(eve, "profile", started="2025-01-01")
    _, text = await world.run(eve, "leaderboard")
    assert "@everyone party" in text
    _, text = await world.run(world.alice, "progress", member=eve)
    assert "Progress of @everyone party" in text
    bodies = message_bodies(world)
    assert len(bodies) >= 4
    for body in bodies:
        assert body.get("allowed_mentions", {}).get("parse") == [], body
        assert not body["allowed_mentions"].get("users"), body


async def test_unexpected_error_is_apologised_for_and_logged(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert world.bot is not None

    async def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(world.bot.services.overview, "progress_overview", boom)
    res, text = await world.run(world.alice, "progress", member=world.bob.id)
    assert res.ephemeral
    ref = text.split("reference `")[1].split("`")[0]
    assert text == SORRY.format(ref=ref) and len(ref) == 6
    assert "database on fire" not in text and "RuntimeError" not in text
    records = [r for r in world.errors.records if "/progress failed" in r.getMessage()]
    assert len(records) == 1
    record = records[0]
    assert record.levelno == logging.ERROR
    # The admin finds the log line by the reference the member was shown; it names the
    # interaction, who ran it and with which options.
    logged = record.getMessage()
    assert f"ref {ref}," in logged and f"user={world.alice.id}" in logged
    assert f"member='{world.bob.id}'" in logged and f"interaction={res.id}" in logged
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)
    world.errors.records.remove(record)
