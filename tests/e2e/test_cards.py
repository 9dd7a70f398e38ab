"""End to end: the pictures in answers (progress card, leaderboard cards, check-in charts, the
self-assessment chart), their settings, and the embed alone whenever a picture cannot be had.

The clock is fixed (a Wednesday in 2030), so each card is the same picture on every run and is
compared with an image stored in tests/e2e/golden/ (UPDATE_GOLDEN=1 rewrites them); pixels
that encode the figures (bars, heatmap cells, the avatar) are checked on top of that.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from bot.db.models import Member
from bot.services.checkins import Answers
from bot.ui.cards import AssessmentChart, CardRenderer, CycleBar, ParticipationChart
from bot.ui.cards.canvas import (
    ACCENT,
    ACCENT_LIGHT,
    GOLD,
    GREEN,
    HEAT,
    PANEL,
    TRACK,
    default_colour,
)
from bot.ui.cards.charts import DIM_ACCENT
from bot.ui.cards.draw import render_assessment, render_participation
from bot.ui.cards.progress import CELL, cell_origin, heat_level
from tests.e2e.harness import World, button_id
from tests.fakediscord import FakeMember
from tests.fakediscord.interaction import InteractionResult, message_text
from tests.ui.golden import assert_matches_golden, decode, mean_difference

GOLDEN = Path(__file__).resolve().parent / "golden"
UTC = dt.UTC
NOW = dt.datetime(2030, 3, 6, 12, 0, tzinfo=UTC)  # a Wednesday
DAY = dt.timedelta(days=1)
AVATAR = (10, 200, 30)  # the colour of alice's avatar on the fake CDN
AVATAR_CENTRE = (106, 102)  # where the progress card draws the avatar (radius 66)
CDN_AVATARS = r"/cdn/avatars/.*"


# --- helpers ----------------------------------------------------------------------------


def near(pixel: Any, rgb: tuple[int, int, int], tolerance: int = 12) -> bool:
    return all(abs(int(a) - b) <= tolerance for a, b in zip(pixel[:3], rgb, strict=True))


def card_of(world: World, message: dict[str, Any], filename: str) -> tuple[bytes, Image.Image]:
    """The picture a message carries, shown as its embed's image; decoded (so a valid PNG)."""
    (attachment,) = message["attachments"]
    assert attachment["filename"] == filename
    (embed,) = message["embeds"]
    assert embed["image"]["url"] == f"attachment://{filename}"
    png = world.fake.attachment_bytes(attachment)
    return png, decode(png).convert("RGB")


def no_card(message: dict[str, Any]) -> None:
    """The embed alone: no attachment, and no image pointing at one."""
    assert not message.get("attachments")
    assert all("image" not in e for e in message.get("embeds") or [])


async def complete(world: World, member: FakeMember, *item_ids: str) -> None:
    assert world.bot is not None
    for item_id in item_ids:
        await world.bot.services.progress.complete(
            world.guild.id, member.id, item_id, display_name=member.name
        )


async def alice_with_progress(world: World) -> None:
    """alice: level 1 (its checklist today), one milestone ten days ago; bob one item."""
    level1 = world.roadmap.level(1)
    world.clock.set(NOW - 10 * DAY)
    await complete(world, world.alice, level1.milestones["knowledge"][0].id)
    world.clock.set(NOW)
    await complete(world, world.alice, *[i.id for i in level1.checklist])
    await complete(world, world.bob, level1.checklist[0].id)


async def admin(world: World, command: str, **options: Any) -> tuple[InteractionResult, str]:
    res = await world.fake.slash(world.guild.id, world.admin.id, command, options, world.channel.id)
    await res.final()
    return res, res.text()


def cdn_fetches(world: World) -> int:
    return len(world.fake.requests_to("GET", CDN_AVATARS))


# --- /progress --------------------------------------------------------------------------


async def test_progress_carries_a_card_with_the_members_figures(world: World) -> None:
    alice = world.alice
    world.fake.set_avatar(alice, colour=AVATAR)
    await alice_with_progress(world)

    res, text = await world.run(alice, "progress")
    assert not res.ephemeral and res.type == 5  # deferred: drawing takes a moment
    assert "8/130 items done in all" in text and "Server rank: #1" in text  # the text version
    message = await res.final()
    png, image = card_of(world, message, "progress.png")
    assert image.size == (1200, 630) and len(png) < 1024 * 1024
    assert_matches_golden(png, "progress_alice", GOLDEN)

    # The avatar from the CDN, in the middle of its circle.
    assert near(image.getpixel(AVATAR_CENTRE), AVATAR)
    # 8 of 130 items: the bar under the title is filled for 6% of its 790 pixels.
    assert near(image.getpixel((214, 146)), ACCENT) and near(image.getpixel((300, 146)), TRACK)
    # Level 1: checklist 7/7 full; level 2: checklist 0/8 empty.
    assert near(image.getpixel((470, 264)), ACCENT)
    assert near(image.getpixel((338, 291)), TRACK)
    # The heatmap: 7 today, 1 ten days ago, nothing yesterday, in alice's (UTC) days.
    today = NOW.date()
    for day, count in ((today, 7), (today - 10 * DAY, 1), (today - DAY, 0)):
        origin = cell_origin(day, today)
        assert origin is not None
        centre = (round(origin[0] + CELL / 2), round(origin[1] + CELL / 2))
        assert near(image.getpixel(centre), HEAT[heat_level(count)], 4), (day, count)

    # The same card the same day is the same picture, drawn once; the avatar fetched once.
    assert world.bot is not None and world.bot.cards is not None
    drawn = world.bot.cards.stats().misses
    fetched = cdn_fetches(world)
    again = await (await world.run(alice, "progress"))[0].final()
    assert card_of(world, again, "progress.png")[0] == png
    assert world.bot.cards.stats().misses == drawn and cdn_fetches(world) == fetched == 1


async def test_progress_of_another_member_and_an_avatar_the_cdn_refuses(world: World) -> None:
    alice, bob = world.alice, world.bob
    world.fake.set_avatar(alice, colour=AVATAR)
    await alice_with_progress(world)
    world.fake.fail("GET", CDN_AVATARS, 500)

    res, text = await world.run(bob, "progress", member=alice)
    assert "Progress of alice" in text
    _, image = card_of(world, await res.final(), "progress.png")
    # Drawn with the generated default: alice's colour, away from her initial.
    x, y = AVATAR_CENTRE
    assert near(image.getpixel((x - 50, y - 30)), default_colour(alice.id), 4)
    assert not near(image.getpixel(AVATAR_CENTRE), AVATAR, 40)
    # A failed avatar is not asked for again at once: the next card does without it.
    fetched = cdn_fetches(world)
    await (await world.run(alice, "progress"))[0].final()
    assert cdn_fetches(world) == fetched

    # bob has no avatar of his own: no fetch, the generated default.
    res, _ = await world.run(bob, "progress")
    _, image = card_of(world, await res.final(), "progress.png")
    assert near(image.getpixel((x - 50, y - 30)), default_colour(bob.id), 4)
    assert cdn_fetches(world) == fetched


# --- /leaderboard -----------------------------------------------------------------------


async def test_each_leaderboard_page_carries_its_card_and_next_redraws(world: World) -> None:
    assert world.bot is not None
    fake, alice, bob = world.fake, world.alice, world.bob
    fake.set_avatar(alice, colour=AVATAR)
    items = [i.id for i in world.roadmap.items]
    world.clock.set(NOW)
    for n in range(11):
        for item in items[: 1 + (10 - n) // 3]:
            await world.bot.services.progress.complete(
                world.guild.id, 9000 + n, item, display_name=f"member{n:02d}"
            )
    await complete(world, alice, items[0])

    res, text = await world.run(alice, "leaderboard")
    assert "12 members · page 1/2" in text and "🥇 **member00**" in text
    message = await res.final()
    first, image = card_of(world, message, "leaderboard.png")
    assert image.size == (1200, 808)  # ten rows
    assert_matches_golden(first, "leaderboard_page1", GOLDEN)
    # Bars against the page's top count (4): member00's full and gold, member09's a quarter.
    assert near(image.getpixel((1020, 160)), GOLD)
    assert near(image.getpixel((840, 736)), ACCENT) and near(image.getpixel((900, 736)), TRACK)

    # Her avatar is stored after the answer, not before it: wait for that write.
    stored = select(Member.avatar_path).where(
        Member.guild_id == world.guild.id, Member.user_id == alice.id
    )
    for _ in range(200):
        async with world.bot.db.read() as s:
            if await s.scalar(stored):
                break
        await asyncio.sleep(0.02)

    # Only the member who ran it turns the pages.
    other = await fake.click(world.guild.id, bob.id, message, button_id(message, "Next"))
    await other.final()
    assert other.ephemeral and "belong to whoever ran the command" in other.text()

    turned = await fake.click(world.guild.id, alice.id, message, button_id(message, "Next"))
    page2 = await turned.final()
    assert "12 members · page 2/2" in turned.text() and "` 12` **alice**" in turned.text()
    second, image = card_of(world, page2, "leaderboard.png")
    assert image.size == (1200, 296) and second != first  # two rows, drawn anew
    # alice's avatar (stored when she ran the command) is on her row, the last one.
    assert near(image.getpixel((166, 224)), AVATAR)

    back = await fake.click(world.guild.id, alice.id, page2, button_id(page2, "Previous"))
    page1 = await back.final()
    assert "page 1/2" in back.text()
    assert card_of(world, page1, "leaderboard.png")[0] == first  # the same page, the same card


# --- the embed alone --------------------------------------------------------------------


def broken(_: object) -> bytes:
    raise RuntimeError("out of ink")


async def test_the_embed_alone_arrives_when_drawing_fails(world: World) -> None:
    assert world.bot is not None and world.bot.cards is not None
    working = world.bot.cards
    world.bot.cards = CardRenderer(
        processes=False, renderers={"progress": broken, "leaderboard": broken}
    )
    working.close()
    alice = world.alice
    await alice_with_progress(world)
    first = world.roadmap.items[0].id
    for n in range(11):
        await complete(world, FakeMember(9000 + n, f"member{n:02d}"), first)

    res, text = await world.run(alice, "progress")
    no_card(await res.final())
    assert "8/130 items done in all" in text and "Server rank: #1" in text

    res, text = await world.run(alice, "leaderboard")
    message = await res.final()
    no_card(message)
    assert "page 1/2" in text
    turned = await world.fake.click(world.guild.id, alice.id, message, button_id(message, "Next"))
    no_card(await turned.final())
    assert "page 2/2" in turned.text()

    # Each failure was logged with its traceback (and nothing else was).
    failures = [r for r in world.errors.records if "could not draw the" in r.getMessage()]
    assert len(failures) == 3 and all(r.exc_info for r in failures)
    for record in failures:
        world.errors.records.remove(record)


async def test_the_embed_alone_arrives_when_the_cards_data_fails(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert world.bot is not None
    await alice_with_progress(world)

    async def down(*args: object, **kwargs: object) -> None:
        raise ConnectionError("database went away")

    monkeypatch.setattr(world.bot.services.progress, "activity", down)
    res, text = await world.run(world.alice, "progress")
    message = await res.final()
    no_card(message)
    assert not res.ephemeral and "8/130 items done in all" in text  # the answer, not an apology
    [failure] = [r for r in world.errors.records if "could not make a picture" in r.getMessage()]
    assert failure.exc_info is not None and isinstance(failure.exc_info[1], ConnectionError)
    world.errors.records.remove(failure)


async def test_cards_off_for_the_server_or_for_a_member(world: World) -> None:
    alice, bob = world.alice, world.bob
    await alice_with_progress(world)
    res, text = await admin(world, "config show")
    assert "Pictures" in text and "on: progress and leaderboard cards" in text

    res, text = await admin(world, "config cards", state="off")
    assert res.ephemeral and "Pictures are off" in text
    assert "off: text only" in (await admin(world, "config show"))[1]
    for member in (alice, bob):
        res, text = await world.run(member, "progress")
        assert res.type == 4  # nothing to draw: answered at once
        no_card(await res.final())
    res, _ = await world.run(alice, "leaderboard")
    no_card(await res.final())
    _, text = await world.run(alice, "profile")
    assert "off in this server" in text

    await admin(world, "config cards", state="on")
    res, text = await world.run(alice, "profile", cards=False)
    assert res.ephemeral and "(saved)" in text and "off (text only)" in text
    res, _ = await world.run(alice, "progress", member=bob)  # the choice of who asks
    no_card(await res.final())
    res, _ = await world.run(alice, "leaderboard")
    no_card(await res.final())
    res, _ = await world.run(bob, "progress", member=alice)
    card_of(world, await res.final(), "progress.png")

    await world.run(alice, "profile", cards=True)
    res, _ = await world.run(alice, "progress")
    card_of(world, await res.final(), "progress.png")


# --- check-ins --------------------------------------------------------------------------


async def test_checkin_summary_carries_participation_and_history_hours(world: World) -> None:
    assert world.bot is not None
    members = [world.alice, world.bob, world.admin]
    world.clock.set(NOW)
    res, text = await admin(
        world,
        "config checkins",
        channel=world.channel.id,
        # Tuesdays 18:00: each falls between two closes here, and is over 48 h old (skipped)
        # by the next run, so only the cycles opened below run.
        day=1,
        time="18:00",
        timezone="Europe/Berlin",
    )
    assert "Weekly check-ins in" in text
    opened: list[dt.date] = []
    for week, answering in enumerate((1, 3, 2)):
        world.clock.set(NOW + week * 7 * DAY)
        res, text = await admin(world, "config checkin-now")
        assert "Check-in opened" in text
        opened.append(world.clock.now().date())
        for member in members[:answering]:
            await world.bot.services.checkins.submit_answer(
                world.guild.id,
                member.id,
                member.name,
                Answers(learned="Spark", hours=str(2 + week)),
            )
        world.clock.advance(dt.timedelta(hours=49))
        await world.bot.scheduler.run_due(world.clock.now())

    summaries = [
        m
        for m in world.fake.channel_messages(world.channel.id)
        if any((e.get("title") or "").startswith("Check-in closed") for e in m["embeds"])
    ]
    assert len(summaries) == 3
    assert "**2** member(s) answered" in message_text(summaries[-1])
    _png, image = card_of(world, summaries[-1], "participation.png")
    assert image.size == (1200, 600)
    expected = ParticipationChart(
        tuple(CycleBar(day, n) for day, n in zip(opened, (1, 3, 2), strict=True)), "Data Guild"
    )
    assert mean_difference(image, decode(render_participation(expected))) < 0.5
    # Bars of 1, 3 and 2 answers on a scale of 3 (the plot runs from y=174 to 526), three slots
    # from x=104 to 1136; the latest is the bright one.
    for cx, top, colour in ((276, 409, DIM_ACCENT), (620, 174, DIM_ACCENT), (964, 291, ACCENT)):
        assert near(image.getpixel((cx + 20, top + 16)), colour), cx
        assert near(image.getpixel((cx + 20, top - 8)), PANEL), cx

    res, text = await world.run(world.alice, "checkin history")
    assert res.ephemeral and "3 answer(s)" in text
    _, image = card_of(world, await res.final(), "hours.png")
    assert image.size == (1200, 600)
    assert near(image.getpixel((964 + 20, 520)), GREEN)  # the latest week's bar


# --- self-assessment --------------------------------------------------------------------

SKILLS, CERTS, INNOVATION = (
    "technical.skill-assessments",
    "technical.certifications",
    "impact.innovation",
)


async def alice_assessed(world: World) -> dict[str, list[tuple[dt.date, int]]]:
    """alice rated herself three times (one metric only once); what the chart should show."""
    assert world.bot is not None
    for days_ago, ratings in (
        (60, {SKILLS: 2, CERTS: 1}),
        (30, {SKILLS: 3, CERTS: 1, INNOVATION: 4}),
        (0, {SKILLS: 4, CERTS: 2}),
    ):
        world.clock.set(NOW - days_ago * DAY)
        await world.bot.services.assessments.save(world.guild.id, world.alice.id, ratings)
    world.clock.set(NOW)
    day = {n: (NOW - n * DAY).date() for n in (60, 30, 0)}
    return {
        "Skill Assessments": [(day[60], 2), (day[30], 3), (day[0], 4)],
        "Certification Achievements": [(day[60], 1), (day[30], 1), (day[0], 2)],
        "Innovation": [(day[30], 4)],
    }


async def test_assess_history_carries_a_chart_per_metric(world: World) -> None:
    alice, bob = world.alice, world.bob
    expected = await alice_assessed(world)

    res, text = await world.run(alice, "assess history")
    assert res.type == 5 and res.ephemeral  # deferred, and still only hers to see
    assert "3 assessment(s)" in text and "Skill Assessments: **4** · ↑ from 3" in text
    png, image = card_of(world, await res.final(), "assessment.png")
    assert image.size == (1200, 320) and len(png) < 1024 * 1024  # one row of three charts
    chart = AssessmentChart(alice.id, alice.name, expected)
    # The renderer's picture of exactly her ratings (one rating off differs by about 0.28).
    assert mean_difference(image, decode(render_assessment(chart))) < 0.1

    # Each panel steps from the rating before to the latest (a rating of 1 at y=258, 5 at
    # y=182, 19 a step), with a dot at each rating: the latest at the right edge (x=px+342),
    # Innovation's one rating of 30 days ago half-way (x=px+189), drawn on to the edge.
    def ypos(rating: int) -> int:
        return 258 - 19 * (rating - 1)

    for px, before, latest in ((40, 3, 4), (419, 1, 2)):
        assert near(image.getpixel((px + 330, ypos(before))), ACCENT), px
        assert near(image.getpixel((px + 330, ypos(before) + 19)), PANEL, 24), px
        assert near(image.getpixel((px + 342, ypos(latest))), ACCENT_LIGHT), px
    assert near(image.getpixel((798 + 189, ypos(4))), ACCENT_LIGHT)
    assert near(image.getpixel((798 + 330, ypos(4))), ACCENT)

    # Another member sees the same picture (hers, drawn once); nothing to chart: no picture.
    res, text = await world.run(bob, "assess history", member=alice)
    assert "Self-assessment of alice" in text
    assert card_of(world, await res.final(), "assessment.png")[0] == png
    res, text = await world.run(bob, "assess history")
    assert res.type == 4 and "No self-assessment yet" in text  # answered at once
    no_card(await res.final())


async def test_assess_history_is_text_alone_when_the_chart_fails_or_cards_are_off(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert world.bot is not None and world.bot.cards is not None
    alice = world.alice
    await alice_assessed(world)
    failing = CardRenderer(processes=False, renderers={"assessment": broken})
    with monkeypatch.context() as patch:
        patch.setattr(world.bot, "cards", failing)
        res, text = await world.run(alice, "assess history")
        no_card(await res.final())
        assert res.ephemeral and "3 assessment(s)" in text
    failing.close()
    [failure] = [r for r in world.errors.records if "could not draw the" in r.getMessage()]
    assert failure.exc_info is not None
    world.errors.records.remove(failure)

    async def down(*args: object, **kwargs: object) -> None:
        raise ConnectionError("database went away")

    with monkeypatch.context() as patch:
        patch.setattr(world.bot.services.assessments, "ratings", down)
        res, text = await world.run(alice, "assess history")
        no_card(await res.final())
        assert res.ephemeral and "3 assessment(s)" in text
    [failure] = [r for r in world.errors.records if "could not make a picture" in r.getMessage()]
    assert failure.exc_info is not None and isinstance(failure.exc_info[1], ConnectionError)
    world.errors.records.remove(failure)

    await admin(world, "config cards", state="off")
    res, text = await world.run(alice, "assess history")
    assert res.type == 4 and "3 assessment(s)" in text  # nothing to draw: answered at once
    no_card(await res.final())
    await admin(world, "config cards", state="on")
    await world.run(alice, "profile", cards=False)
    res, _ = await world.run(alice, "assess history")
    no_card(await res.final())
    res, _ = await world.run(world.bob, "assess history", member=alice)  # the choice of who asks
    card_of(world, await res.final(), "assessment.png")


# --- the worker process -----------------------------------------------------------------


async def test_cards_are_drawn_in_a_worker_process_by_default(world: World) -> None:
    bot = await world.restart_with(CARD_WORKERS=1)
    assert bot.cards is not None and bot.cards.processes
    world.fake.set_avatar(world.alice, colour=AVATAR)
    await alice_with_progress(world)
    res, _ = await world.run(world.alice, "progress")
    png, image = card_of(world, await res.final(timeout=30), "progress.png")
    assert image.size == (1200, 630)
    assert_matches_golden(png, "progress_alice", GOLDEN)
