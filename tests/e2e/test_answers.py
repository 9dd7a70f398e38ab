"""End to end: every interaction is answered before its token dies, whatever the database does.

Another connection holds SQLite's write lock (as a backup, a second process or `sqlite3` in
a shell would) while members complete items, tick a checklist, turn pages and look at their
progress and the leaderboard. The fake refuses any first response after Discord's deadline.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.db.models import Completion, Member
from tests.e2e.harness import World, button_id, select_of
from tests.fakediscord import InteractionResult

LOCK_SECONDS = 6


class WriteLock:
    """A connection of its own that takes SQLite's write lock and keeps it for a while."""

    def __init__(self, db_url: str, seconds: float) -> None:
        self.path = make_url(db_url).database or ""
        self.seconds = seconds
        self.held = threading.Event()
        self.released = threading.Event()
        self._thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        try:
            conn.execute("BEGIN IMMEDIATE")
            self.held.set()
            self.released.wait(self.seconds)
            conn.execute("COMMIT")
        finally:
            conn.close()
            self.released.set()

    async def __aenter__(self) -> WriteLock:
        self._thread.start()
        await asyncio.to_thread(self.held.wait, 10)
        assert self.held.is_set(), "could not take the write lock"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self._thread.join, 30)


async def finals(results: list[InteractionResult], timeout: float = 30) -> None:  # noqa: ASYNC109
    await asyncio.gather(*(r.final(timeout) for r in results))


async def test_a_held_write_lock_leaves_no_interaction_unanswered(
    world: World, sqlite_only: None
) -> None:
    # SQLite's write lock, held by another connection (PostgreSQL locks rows, not the file).
    fake, guild = world.fake, world.guild
    assert world.bot is not None and world.db_url.startswith("sqlite")
    members = [world.alice, world.bob] + [
        fake.add_member(guild.id, name=f"member{n}") for n in range(4)
    ]
    items = [i.id for i in world.roadmap.checklist(1)]
    # Before the lock: a checklist menu for alice and a paginated list for bob.
    checklist, _ = await world.run(world.alice, "milestone checklist", level=2)
    listing, _ = await world.run(world.bob, "milestone list")
    fake.member(guild.id, world.alice.id).nick = "Alice the Engineer"

    async with WriteLock(world.db_url, LOCK_SECONDS) as lock:
        writes: list[InteractionResult] = []
        reads: list[InteractionResult] = []
        for member in members:
            for item in items[:2]:
                writes.append(
                    await fake.slash(guild.id, member.id, "milestone complete", {"milestone": item})
                )
            reads.append(await fake.slash(guild.id, member.id, "progress"))
            reads.append(await fake.slash(guild.id, member.id, "leaderboard"))
        menu = select_of(checklist.message)
        level2 = [i.id for i in world.roadmap.checklist(2)][:2]
        picked = await fake.select(
            guild.id, world.alice.id, checklist.message, menu["custom_id"], level2
        )
        turned = await fake.click(
            guild.id, world.bob.id, listing.message, button_id(listing.message, "Next")
        )
        typed = await fake.autocomplete(
            guild.id, world.bob.id, "milestone complete", {"milestone": "python"}, "milestone"
        )
        # Reads do not wait for the lock: they are all answered while it is still held.
        await finals([*reads, turned])
        choices = await typed.choices()
        assert not lock.released.is_set()
        await finals([*writes, picked])

    everything = [*writes, *reads, picked, turned, typed]
    assert [r for r in everything if r.expired or not r.responded] == []
    # The writes waited for the lock: deferred first, then their answer in the deferred reply.
    for res in writes:
        assert res.type == 5 and res.ephemeral and "✅ Done" in res.text(), res.text()
    assert picked.type == 6 and "Saved: 2/8" in picked.text()
    assert "page 2/9" in turned.text()
    assert any("python" in c["name"].lower() for c in choices)
    for res in reads:
        assert not res.ephemeral

    # Each item stored once; each member's count matches.
    assert world.bot is not None
    async with world.bot.db.read() as s:
        rows = (
            await s.execute(
                select(Completion.user_id, Completion.item_id, func.count())
                .where(Completion.guild_id == guild.id)
                .group_by(Completion.user_id, Completion.item_id)
            )
        ).all()
        counts = dict(
            (
                await s.execute(
                    select(Member.user_id, Member.completed_count).where(
                        Member.guild_id == guild.id
                    )
                )
            ).all()
        )
        alice_name = await s.scalar(
            select(Member.display_name).where(
                Member.guild_id == guild.id, Member.user_id == world.alice.id
            )
        )
    assert {n for *_, n in rows} == {1}
    stored: dict[int, set[str]] = {}
    for user_id, item_id, _ in rows:
        stored.setdefault(user_id, set()).add(item_id)
    for member in members:
        extra = set(level2) if member is world.alice else set()
        assert stored[member.id] == set(items[:2]) | extra
        assert counts[member.id] == len(stored[member.id])
    # /progress wrote alice's new name after answering, once the lock was gone.
    assert alice_name == "Alice the Engineer"


async def test_a_slow_command_is_deferred_and_its_error_stays_private(world: World) -> None:
    """A public command that turns out slow, then fails: the error replaces the public
    "thinking" with a private message."""
    assert world.bot is not None
    gate = asyncio.Event()

    async def slow_read(*args: Any, **kwargs: Any) -> None:
        await gate.wait()
        raise RuntimeError("progress unavailable")

    world.bot.services.overview.progress_overview = slow_read  # type: ignore[method-assign]
    res = await world.fake.slash(world.guild.id, world.alice.id, "progress")
    await res.response(10)
    assert res.type == 5 and not res.ephemeral  # /progress is public: it thinks in public
    gate.set()
    await res.final(10)
    assert res.deleted and res.ephemeral and "Something went wrong" in res.text()
    world.errors.records = [
        r for r in world.errors.records if "/progress failed" not in r.getMessage()
    ]


# ------------------------------------------------------------------ odd options


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("progress", {}),
        ("milestone list", {}),
        ("checkin history", {}),
        ("config grant", {"milestone": "l1.check.python-training"}),
        ("config revoke", {"milestone": "l1.check.python-training"}),
    ],
)
async def test_a_member_option_naming_someone_not_in_the_server(
    world: World, command: str, options: dict[str, Any]
) -> None:
    """Discord lets anyone be picked (a user who left, or one from a shared DM): the bot says
    so, privately, and logs no error (the world fixture fails on any ERROR)."""
    gone = world.fake.add_user("ghost")
    res, text = await world.run(world.admin, command, member=gone.id, **options)
    assert res.ephemeral and not res.expired
    assert "**ghost** is not a member of this server" in text and "pick someone who is" in text
