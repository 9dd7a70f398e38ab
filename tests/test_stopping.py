"""Stopping the bot process under load: SIGTERM lets work finish, kill -9 loses nothing.

Real bot processes (`python -m bot run`) against the fake Discord on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.inflight import RESTARTING
from bot.roadmap import Item, Roadmap
from tests.fakediscord import (
    FakeDiscord,
    FakeGuild,
    FakeMember,
    InteractionResult,
    ShardNotConnectedError,
)
from tests.support.process import TOKEN, BotProcess, bot_env, error_lines

DONE = "✅ Done"


@dataclass
class Server:
    fake: FakeDiscord
    guild: FakeGuild
    members: list[FakeMember]
    db_path: Path
    cwd: Path

    def bot(self) -> BotProcess:
        env = bot_env(self.fake, DATABASE_URL=f"sqlite:///{self.db_path}")
        return BotProcess(self.cwd, "run", env=env)

    async def ready(self, bot: BotProcess) -> None:
        """Wait until the bot process is connected and answers a command."""
        try:
            await self.fake.wait_until_connected(timeout=60)
            res = await self.fake.slash(self.guild.id, self.members[0].id, "levels")
            await res.final(timeout=30)
        except (AssertionError, TimeoutError):
            raise AssertionError(f"the bot did not get ready; its log:\n{bot.log()}") from None

    async def complete(self, member: FakeMember, item: Item) -> InteractionResult:
        options = {"milestone": item.id}
        return await self.fake.slash(self.guild.id, member.id, "milestone complete", options)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    """A fake Discord with one server of 40 members; the bot's database in tmp_path."""
    fake = FakeDiscord()
    await fake.start()
    try:
        guild = fake.add_guild(name="Data Guild")
        members = [fake.add_member(guild.id, name=f"member{i:02}") for i in range(40)]
        yield Server(fake, guild, members, tmp_path / "bot.sqlite3", tmp_path)
    finally:
        await fake.close()


def items(roadmap: Roadmap) -> list[Item]:
    return [item for level in roadmap.levels for item in level.items]


def stored(db_path: Path) -> set[tuple[int, str]]:
    with sqlite3.connect(db_path) as conn:
        return {(int(u), i) for u, i in conn.execute("SELECT user_id, item_id FROM completions")}


def answer_text(res: InteractionResult) -> str:
    """What the member sees now, without waiting (the bot may be dead)."""
    return res.text() if res.responded else ""


async def test_sigterm_with_40_commands_in_flight_answers_every_one(
    server: Server, roadmap: Roadmap
) -> None:
    async with server.bot() as bot:
        await server.ready(bot)
        # Another process holds the write lock: the 40 completions wait on it, in flight.
        lock = sqlite3.connect(server.db_path, isolation_level=None, timeout=30)
        lock.execute("BEGIN IMMEDIATE")
        try:
            results = [
                await server.complete(member, item)
                for member, item in zip(server.members, items(roadmap), strict=False)
            ]
            await asyncio.sleep(0.5)  # They reach the bot and queue on the lock.
            bot.send(signal.SIGTERM)
            await asyncio.sleep(0.3)
            # Arriving during the stop: answered, not run.
            late = [
                await server.complete(member, items(roadmap)[-1]) for member in server.members[:5]
            ]
            await asyncio.sleep(1)
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        status = await bot.wait(timeout=10)  # Docker kills 10 s after SIGTERM.
        log = bot.log()

    assert status == 0, log
    assert error_lines(log) == [], log
    assert TOKEN not in log
    assert len(results) == 40
    unanswered = [r for r in results + late if not r.responded]
    assert unanswered == [], log
    for res in late:
        assert RESTARTING in answer_text(res)
    done = {int(r.payload["member"]["user"]["id"]) for r in results if DONE in answer_text(r)}
    refused = [r for r in results if RESTARTING in answer_text(r)]
    assert len(done) + len(refused) == 40, [answer_text(r) for r in results]
    assert done, "no command was in flight when the stop began"
    # What a member was told is what was kept.
    assert {user for user, _ in stored(server.db_path)} == done
    assert "waiting for" in log and "in flight" in log


async def test_kill_9_during_600_completions_loses_and_doubles_nothing(
    server: Server, roadmap: Roadmap
) -> None:
    members = server.members[:10]
    # Enough work that the kill lands in the middle of it, however fast the bot answers.
    todo = [(member, item) for member in members for item in items(roadmap)[:60]]
    results: list[tuple[FakeMember, Item, InteractionResult]] = []

    async def send() -> None:
        for m, i in todo:
            try:
                results.append((m, i, await server.complete(m, i)))
            except ShardNotConnectedError:  # killed: nobody to send to any more
                return

    async with server.bot() as bot:
        await server.ready(bot)
        # Sent while the kill is awaited: it lands while commands are still coming, however
        # fast the bot answers and however slowly this process sends.
        sender = asyncio.create_task(send())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while sum(DONE in answer_text(r) for _, _, r in results) < 50:
            assert loop.time() < deadline, bot.log()
            await asyncio.sleep(0.005)
        bot.kill()
        assert await bot.wait(timeout=10) == -signal.SIGKILL
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
    acknowledged = {(m.id, i.id) for m, i, r in results if DONE in answer_text(r)}
    assert 50 <= len(acknowledged) < len(todo), "the kill came after every completion"

    async with server.bot() as bot:
        await server.ready(bot)
        kept = stored(server.db_path)
        assert acknowledged <= kept  # Nothing a member was told is lost...
        member, item, _ = next(x for x in results if (x[0].id, x[1].id) in acknowledged)
        res = await server.complete(member, item)
        await res.final(timeout=30)
        assert "already done" in res.text()  # ... or done twice.
        res = await server.fake.slash(server.guild.id, members[0].id, "leaderboard")
        await res.final(timeout=30)
        board = res.text()
        bot.send(signal.SIGTERM)
        assert await bot.wait(timeout=10) == 0, bot.log()
        assert error_lines(bot.log()) == [], bot.log()

    with sqlite3.connect(server.db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        recount = dict(
            conn.execute("SELECT user_id, COUNT(*) FROM completions GROUP BY user_id").fetchall()
        )
        counters = dict(conn.execute("SELECT user_id, completed_count FROM members").fetchall())
    assert {u: counters[u] for u in recount} == recount
    shown = {name: int(n) for name, n in re.findall(r"\*\*(member\d\d)\*\* · (\d+) done", board)}
    names = {m.id: m.name for m in members}
    assert shown == {names[int(u)]: n for u, n in recount.items()}
    total = re.search(r"(\d+) members? · page", board)
    assert total is not None and int(total.group(1)) == len(recount), board
