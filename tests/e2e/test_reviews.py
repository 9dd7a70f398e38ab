"""End to end: items that need review are submitted, reviewed in a queue or a channel, decided."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any

from tests.e2e.harness import World, button_id, eventually
from tests.e2e.test_checkins import admin_run
from tests.e2e.test_members import complete
from tests.e2e.test_reminders import run_settled
from tests.fakediscord import FakeChannel, FakeMember, FakeRole
from tests.fakediscord.interaction import InteractionResult, message_text

NOTE = "review:note"


@dataclass
class Reviewing:
    """A server that reviews its checklist: a reviewer role, two reviewers, a review channel."""

    role: FakeRole
    rita: FakeMember
    ravi: FakeMember
    channel: FakeChannel


async def reviewing(world: World, **options: Any) -> Reviewing:
    fake = world.fake
    role = fake.add_role(world.guild.id, name="Mentor", position=1)
    rita = fake.add_member(world.guild.id, name="rita", roles=[role])
    ravi = fake.add_member(world.guild.id, name="ravi", roles=[role])
    channel = fake.add_channel(world.guild.id, name="reviews")
    settings = {"checklist": True, "reviewer_role": role.id, "channel": channel.id, **options}
    res, text = await admin_run(world, "config review", **settings)
    assert res.ephemeral and "Items already done stay done" in text, text
    if not options:
        assert "Needs review: Checklist items at every level" in text, text
    return Reviewing(role, rita, ravi, channel)


def posts(world: World, channel: FakeChannel) -> list[dict[str, Any]]:
    return [
        m
        for m in world.fake.channel_messages(channel.id)
        if any((e.get("title") or "").startswith("Submission #") for e in m.get("embeds") or [])
    ]


def has_buttons(message: dict[str, Any]) -> bool:
    return any(row.get("components") for row in message.get("components") or [])


def review_dms(world: World, member: FakeMember) -> list[str]:
    return [
        message_text(m)
        for m in world.fake.dms(member.id)
        if any((e.get("title") or "").startswith("Review in") for e in m.get("embeds") or [])
    ]


def posting() -> bool:
    """Whether the review channel's post of a submission is still being made or updated."""
    return any(
        t.get_name().startswith("discord.py: on_review_") and not t.done()
        for t in asyncio.all_tasks()
    )


async def submit(world: World, member: FakeMember, item_id: str, evidence: str) -> str:
    """Run `/milestone complete` with evidence; wait until the review channel's post is made."""
    res, text = await world.run(member, "milestone complete", milestone=item_id, evidence=evidence)
    assert res.ephemeral
    await eventually(lambda: not posting())
    return text


async def press(
    world: World, member: FakeMember, message: dict[str, Any], label: str
) -> InteractionResult:
    return await world.fake.click(world.guild.id, member.id, message, button_id(message, label))


async def decide(
    world: World, member: FakeMember, message: dict[str, Any], label: str, note: str
) -> tuple[InteractionResult, str]:
    """Press a decision button, fill in the note, submit: the answer to the form."""
    modal = await (await press(world, member, message, label)).modal()
    res = await world.fake.submit_modal(world.guild.id, member.id, modal["custom_id"], {NOTE: note})
    await res.final()
    return res, res.text()


async def confirmation(res: InteractionResult) -> str:
    return message_text((await res.followups(1))[0])


# ------------------------------------------------------------------ the whole flow


async def test_submit_decide_resubmit_and_approve_with_level_up_and_role(world: World) -> None:
    fake, alice = world.fake, world.alice
    items = world.roadmap.checklist(1)
    last = items[-1]
    await complete(world, alice, *[i.id for i in items[:-1]])
    level_role = fake.add_role(world.guild.id, name="Junior DE", position=2)
    await admin_run(world, "config level-role", level=1, role=level_role.id)
    r = await reviewing(world)
    # Turning review on changed nothing already done.
    _, text = await world.run(alice, "level", level=1)
    assert "Checklist (6/7)" in text

    # Evidence is needed; submitting makes the item submitted, not done.
    res, text = await world.run(alice, "milestone complete", milestone=last.id)
    assert res.ephemeral and "needs a reviewer's approval" in text and "evidence:" in text
    text = await submit(world, alice, last.id, "https://github.com/alice/etl v1")
    assert "Submitted for review" in text and "I will DM you" in text
    assert "Reviews here take" not in text  # no history yet
    await eventually(lambda: posts(world, r.channel))
    [post] = posts(world, r.channel)
    assert f"<@{alice.id}>" in message_text(post) and "v1" in message_text(post)
    assert has_buttons(post)

    _, text = await world.run(alice, "milestone list", level=1, category="check")
    assert f"🕓 {last.title}" in text and "6/7 done · 🕓 1 awaiting review" in text
    _, text = await world.run(alice, "level", level=1)
    assert f"🕓 {last.title}" in text and "Checklist (6/7)" in text
    _, text = await world.run(alice, "progress")
    assert "Awaiting review (not counted yet)" in text and "Level 0" in text
    assert "6/130 items done in all" in text
    _, text = await world.run(alice, "leaderboard")
    assert "· 6 done · L0" in text
    assert level_role.id not in fake.member_roles(world.guild.id, alice.id)

    # Submitting again before a decision replaces the evidence, in the queue and the post.
    text = await submit(world, alice, last.id, "https://github.com/alice/etl v2")
    assert "New evidence" in text and "keeps its place" in text
    await eventually(lambda: "v2" in message_text(posts(world, r.channel)[0]))
    assert len(posts(world, r.channel)) == 1

    res, text = await world.run(r.rita, "review queue")
    assert res.ephemeral and f"#1 · {last.title}" in text
    assert f"<@{alice.id}>" in text and "v2" in text and "v1" not in text
    assert "1 waiting" in text

    # Changes requested, from the /review open answer.
    res, text = await world.run(r.rita, "review open")
    assert res.ephemeral and "It is yours to decide" in text and "Submission #1" in text
    assert res.message is not None
    done, text = await decide(world, r.rita, res.message, "Request changes", "Add a README")
    assert "changes requested" in text and "Add a README" in text
    assert "I DMed them the decision" in await confirmation(done)
    [dm] = review_dms(world, alice)
    assert "Changes requested" in dm and "Add a README" in dm and "/milestone complete" in dm
    await eventually(lambda: not has_buttons(posts(world, r.channel)[0]))
    assert "changes requested" in message_text(posts(world, r.channel)[0])

    # The member submits again: a new submission, with the wait shown.
    text = await submit(world, alice, last.id, "v3 with a README")
    assert "Submitted for review" in text and "Reviews here take under an hour" in text
    await eventually(lambda: len(posts(world, r.channel)) == 2)

    # Rejected, from the review channel's post.
    done, text = await decide(world, r.ravi, posts(world, r.channel)[1], "Reject", "Wrong repo")
    assert "rejected" in text
    assert "I DMed them" in await confirmation(done)  # the DM goes before this note
    assert "Not approved" in review_dms(world, alice)[-1]
    await submit(world, alice, last.id, "v4, the right repo")
    await eventually(lambda: len(posts(world, r.channel)) == 3)

    # Approved after a restart: the post's buttons still work. The level, role, and one
    # announcement follow, as completing the item does.
    await world.restart()
    done, text = await decide(world, r.rita, posts(world, r.channel)[2], "Approve", "")
    assert "approved" in text
    assert "They reached **Level 1 · Junior Data Engineer**" in await confirmation(done)
    assert "I DMed them" in await confirmation(done)
    assert "Approved" in review_dms(world, alice)[-1]
    await eventually(lambda: level_role.id in fake.member_roles(world.guild.id, alice.id))

    def announcements() -> list[dict[str, Any]]:
        return [m for m in fake.channel_messages(world.channel.id) if "reached" in m["content"]]

    await eventually(announcements)
    assert len(announcements()) == 1
    _, text = await world.run(alice, "progress")
    assert "**Level 1 · Junior Data Engineer**" in text and "Awaiting review" not in text
    assert "7/130 items done in all" in text and "v4, the right repo" in text

    # Every decision is in the audit log; the numbers count them.
    _, text = await admin_run(world, "config show")
    assert f"approved `{last.id}` of <@{alice.id}>" in text
    assert f"rejected `{last.id}` of <@{alice.id}>" in text
    assert f"asked for changes on `{last.id}` of <@{alice.id}>" in text
    assert f"Reviewers: <@&{r.role.id}>" in text and f"Review channel: <#{r.channel.id}>" in text
    res, text = await world.run(r.rita, "review stats")
    assert res.ephemeral and "**0** waiting" in text and "(3 decision(s))" in text
    assert f"<@{r.rita.id}>: 2 (1 approved, 1 changes requested, 0 rejected)" in text
    assert f"<@{r.ravi.id}>: 1 (0 approved, 0 changes requested, 1 rejected)" in text


async def test_checklist_menu_does_not_complete_items_that_need_review(world: World) -> None:
    fake, alice = world.fake, world.alice
    await reviewing(world)
    items = world.roadmap.checklist(1)
    res, _ = await world.run(alice, "milestone checklist", level=1)
    select = next(
        c for row in res.message["components"] for c in row["components"] if c["type"] == 3
    )
    assert "Needs a reviewer" in select["options"][0]["description"]
    picked = await fake.select(
        world.guild.id, alice.id, res.message, select["custom_id"], [items[0].id]
    )
    await picked.final()
    assert "Nothing changed: 0/7" in picked.text() and "need a reviewer here" in picked.text()
    assert world.bot is not None
    assert await world.bot.services.progress.done_ids(world.guild.id, alice.id) == set()


async def test_undo_withdraws_a_submission(world: World) -> None:
    alice = world.alice
    r = await reviewing(world)
    item = world.roadmap.checklist(1)[0]
    await submit(world, alice, item.id, "my work")
    await eventually(lambda: posts(world, r.channel))
    res, text = await world.run(alice, "milestone undo", milestone=item.id)
    assert res.ephemeral and "Submission withdrawn" in text
    await eventually(lambda: not has_buttons(posts(world, r.channel)[0]))
    assert "withdrawn by the member" in message_text(posts(world, r.channel)[0])
    _, text = await world.run(r.rita, "review queue")
    assert "Nothing is waiting for review" in text


async def test_a_refused_post_is_shown_to_admins_and_the_queue_still_has_it(world: World) -> None:
    r = await reviewing(world)
    path = rf"/channels/{r.channel.id}/messages"
    world.fake.fail("POST", path, 403, 50013, "Missing Permissions")
    text = await submit(world, world.alice, world.roadmap.checklist(1)[0].id, "work")
    assert "Submitted for review" in text
    _, text = await admin_run(world, "config show")
    assert f"Could not post a submission in <#{r.channel.id}>: Missing Permissions" in text
    _, text = await world.run(r.rita, "review queue")
    assert "1 waiting" in text


# ------------------------------------------------------------------ who may review, and when


async def test_nobody_reviews_their_own_submission(world: World) -> None:
    r = await reviewing(world)
    item = world.roadmap.checklist(1)[0]
    await submit(world, r.rita, item.id, "rita's own work")
    await eventually(lambda: posts(world, r.channel))
    res, text = await world.run(r.rita, "review open", submission=1)
    assert res.ephemeral and "cannot review your own submission" in text
    res, text = await world.run(r.rita, "review open")
    assert "Nothing to take" in text
    click = await press(world, r.rita, posts(world, r.channel)[0], "Approve")
    await click.final()
    assert click.ephemeral and "cannot review your own submission" in click.text()
    # Another reviewer may.
    _, text = await decide(world, r.ravi, posts(world, r.channel)[0], "Approve", "Nice")
    assert "approved" in text


async def test_only_reviewers_and_admins_review(world: World) -> None:
    fake, bob = world.fake, world.bob
    r = await reviewing(world)
    await submit(world, world.alice, world.roadmap.checklist(1)[0].id, "work")
    await eventually(lambda: posts(world, r.channel))
    for command in ("review queue", "review open", "review stats"):
        res, text = await world.run(bob, command)
        assert res.ephemeral and "Only reviewers can do this" in text, command
    click = await press(world, bob, posts(world, r.channel)[0], "Approve")
    await click.final()
    assert click.ephemeral and "Only reviewers can do this" in click.text()
    assert click.type != 9  # no form opened
    # Admins (Manage Server) review without the role.
    res, text = await admin_run(world, "review queue")
    assert "1 waiting" in text
    # Only admins change what needs review, even where a server shows /config to everyone.
    fake.enforce_permissions = False
    try:
        res = await fake.slash(world.guild.id, bob.id, "config review", {"checklist": False})
    finally:
        fake.enforce_permissions = True
    await res.final()
    assert "You need the Manage Server permission" in res.text()
    assert world.bot is not None
    assert (await world.bot.services.reviews.policy(world.guild.id)).active


async def test_a_claim_not_decided_in_48_hours_returns_to_the_queue(world: World) -> None:
    r = await reviewing(world)
    await submit(world, world.alice, world.roadmap.checklist(1)[0].id, "work")
    claimed, text = await world.run(r.rita, "review open")
    assert "Submission #1" in text and claimed.message is not None
    _, text = await world.run(r.ravi, "review open")
    assert "Nothing to take" in text
    _, text = await world.run(r.ravi, "review queue")
    assert f"claimed by <@{r.rita.id}>" in text
    world.clock.advance(dt.timedelta(hours=47))
    _, text = await world.run(r.ravi, "review open", submission=1)
    assert "Another reviewer has claimed submission #1" in text
    world.clock.advance(dt.timedelta(hours=1, minutes=1))
    _, text = await world.run(r.ravi, "review queue")
    assert "claimed by" not in text
    _, text = await world.run(r.ravi, "review open")
    assert "Submission #1" in text and "It is yours to decide" in text
    # Rita's claim lapsed: her old buttons no longer decide it.
    late = await press(world, r.rita, claimed.message, "Approve")
    await late.final()
    assert late.ephemeral and "Another reviewer has claimed submission #1" in late.text()


async def test_two_reviewers_deciding_at_once_make_one_decision(world: World) -> None:
    fake, alice = world.fake, world.alice
    r = await reviewing(world)
    await submit(world, alice, world.roadmap.checklist(1)[0].id, "work")
    await eventually(lambda: posts(world, r.channel))
    [post] = posts(world, r.channel)
    first = await (await press(world, r.rita, post, "Approve")).modal()
    second = await (await press(world, r.ravi, post, "Reject")).modal()
    results = await asyncio.gather(
        fake.submit_modal(world.guild.id, r.rita.id, first["custom_id"], {NOTE: ""}),
        fake.submit_modal(world.guild.id, r.ravi.id, second["custom_id"], {NOTE: "No"}),
    )
    texts = []
    for res in results:
        await res.final()
        texts.append(res.text())
    refused = [t for t in texts if "already decided" in t]
    assert len(refused) == 1, texts
    await eventually(lambda: len(review_dms(world, alice)) == 1)
    assert world.bot is not None
    audit = (await world.bot.services.guilds.config(world.guild.id)).recent_audit
    assert len(audit) == 1
    # The post shows the one decision; asking for it again says it was decided.
    assert not has_buttons(fake.messages[int(post["id"])])
    _, text = await world.run(r.ravi, "review open", submission=1)
    assert "already decided" in text


# ------------------------------------------------------------------ closed DMs and data rights


async def test_closed_dms_are_told_after_the_next_command(world: World) -> None:
    fake, alice = world.fake, world.alice
    r = await reviewing(world)
    fake.close_dms(alice.id)
    await submit(world, alice, world.roadmap.checklist(1)[0].id, "work")
    await eventually(lambda: posts(world, r.channel))
    done, _ = await decide(world, r.rita, posts(world, r.channel)[0], "Request changes", "Tests?")
    assert "Their DMs are closed" in await confirmation(done)
    res = await run_settled(world, alice, "levels")
    [notice] = res.followup_messages
    assert int(notice.get("flags") or 0) & 64  # only she sees it
    text = message_text(notice)
    assert "Reviews of your submissions" in text and "Changes requested" in text
    assert "Tests?" in text
    res = await run_settled(world, alice, "levels")
    assert res.followup_messages == []


async def test_mydata_exports_and_deletes_submissions(world: World) -> None:
    fake, alice = world.fake, world.alice
    r = await reviewing(world)
    await submit(world, alice, world.roadmap.checklist(1)[0].id, "alice's evidence")
    await eventually(lambda: posts(world, r.channel))
    res = await fake.slash(world.guild.id, alice.id, "mydata delete", {}, world.channel.id)
    await res.final()
    assert "submissions for review" in res.text()
    assert res.message is not None
    confirm = await press(world, alice, res.message, "Delete my data")
    await confirm.final()
    assert "1 submission(s) for review" in confirm.text()
    await eventually(lambda: not posts(world, r.channel))
    _, text = await world.run(r.rita, "review queue")
    assert "Nothing is waiting for review" in text
