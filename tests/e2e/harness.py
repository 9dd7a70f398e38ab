"""End-to-end harness: the real bot (unmodified discord.py) against the fake Discord."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.bot import MilestoneBot
from bot.config import Settings
from bot.db import Database
from bot.roadmap import Roadmap
from tests.fakediscord import MANAGE_ROLES, FakeChannel, FakeDiscord, FakeGuild, FakeMember
from tests.support.fakes import FakeClock

MANAGE_GUILD = 1 << 5


class TickingClock(FakeClock):
    """A FakeClock that moves 1 ms each time it is read, as time passes between actions.

    Completions made one after another then get distinct times, so "who got there first"
    is decided as it would be in a live server.
    """

    def now(self) -> dt.datetime:
        current = super().now()
        self.advance(dt.timedelta(milliseconds=1))
        return current


class ErrorLog(logging.Handler):
    """Collects ERROR records so tests can assert nothing unexpected blew up."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class World:
    """A fake Discord with one server, its people, and the bot connected to it.

    The bot's scheduler runs on `clock`, a FakeClock starting at the real time: tests move
    it and call `bot.scheduler.run_due(clock.now())` instead of sleeping.
    """

    fake: FakeDiscord
    roadmap: Roadmap
    db_url: str
    guild: FakeGuild
    channel: FakeChannel
    admin: FakeMember
    alice: FakeMember
    bob: FakeMember
    clock: FakeClock = field(default_factory=lambda: TickingClock(dt.datetime.now(dt.UTC)))
    bot: MilestoneBot | None = None
    task: asyncio.Task[None] | None = None
    errors: ErrorLog = field(default_factory=ErrorLog)

    async def start_bot(self, **settings: Any) -> MilestoneBot:
        """Start a bot process (new objects, same database file) and wait until ready.

        Pictures are drawn in a thread (CARD_WORKERS=0): no worker process per test; a test
        that wants the process passes CARD_WORKERS=1.
        """
        settings = {"CARD_WORKERS": 0, **settings}
        config = Settings(DISCORD_TOKEN="fake-token", DATABASE_URL=self.db_url, **settings)
        bot = MilestoneBot(
            config,
            Database(self.db_url),
            self.roadmap,
            clock=self.clock,
            guild_ready_timeout=0.1,
        )
        self.bot = bot
        self.task = asyncio.create_task(bot.start("fake-token"))
        await asyncio.wait_for(bot.wait_until_ready(), 10)
        return bot

    async def stop_bot(self) -> None:
        """Close the bot as a shutdown would, once the work of answered interactions is done
        (a read-only command stores a changed display name after answering)."""
        if self.bot is not None:
            await handlers_done()
            await self.bot.close()
        if self.task is not None:
            await asyncio.wait_for(self.task, 10)
        self.bot = self.task = None

    async def restart_with(self, **settings: Any) -> MilestoneBot:
        """Restart the bot with other settings (environment names, e.g. METRICS_PORT)."""
        await self.stop_bot()
        return await self.start_bot(**settings)

    async def restart(self) -> MilestoneBot:
        """Stop the bot and start a new one on the same database."""
        await self.stop_bot()
        return await self.start_bot()

    async def run(self, user: FakeMember, command: str, **options: Any) -> tuple[Any, str]:
        """Run a slash command in the server's channel; return (result, final text)."""
        res = await self.fake.slash(self.guild.id, user.id, command, options, self.channel.id)
        await res.final()
        return res, res.text()


async def eventually(predicate: Callable[[], object], timeout: float = 5) -> None:  # noqa: ASYNC109
    """Wait until `predicate()` is true: the bot's side effects follow its reply."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def handlers_done(timeout: float = 10) -> None:  # noqa: ASYNC109
    """Wait for command, component and form handlers still at work (tasks named by discord.py)."""
    names = ("CommandTree-invoker", "discord-ui-view-dispatch", "discord-ui-modal-dispatch")
    running = [
        t
        for t in asyncio.all_tasks()
        if t.get_name().startswith(names) and not t.done() and t is not asyncio.current_task()
    ]
    if running:
        await asyncio.wait(running, timeout=timeout)


def hooks_running() -> bool:
    """Whether the bot's after-command hook (the DM-failure notice) is still at work."""
    return any(
        t.get_name() == "discord.py: on_app_command_completion" and not t.done()
        for t in asyncio.all_tasks()
    )


def button_id(message: dict[str, Any], label: str) -> str:
    """The custom_id of the button whose label contains `label`."""
    for row in message.get("components") or []:
        for comp in row.get("components") or []:
            if label in (comp.get("label") or ""):
                return str(comp["custom_id"])
    raise AssertionError(f"no button {label!r} in {message.get('components')}")


def select_of(message: dict[str, Any]) -> dict[str, Any]:
    """The first select menu of a message."""
    for row in message.get("components") or []:
        for comp in row.get("components") or []:
            if comp.get("type") == 3:
                return dict(comp)
    raise AssertionError(f"no select menu in {message.get('components')}")


async def make_world(roadmap: Roadmap, db_url: str) -> World:
    """Start the fake Discord with a server: an admin, two members, a bot with Manage Roles."""
    fake = FakeDiscord()
    await fake.start()
    fake.install()
    guild = fake.add_guild(name="Data Guild")
    channel = fake.add_channel(guild.id, name="progress")
    bot_role = fake.add_role(guild.id, name="Milestone Bot", position=10, permissions=MANAGE_ROLES)
    fake.set_bot_roles(guild.id, [bot_role.id])
    admin = fake.add_member(guild.id, name="ada", permissions=MANAGE_GUILD | MANAGE_ROLES)
    alice = fake.add_member(guild.id, name="alice")
    bob = fake.add_member(guild.id, name="bob")
    world = World(fake, roadmap, db_url, guild, channel, admin, alice, bob)
    logging.getLogger().addHandler(world.errors)
    return world


async def close_world(world: World) -> None:
    """Stop the bot and the fake, and check nothing called an unknown route."""
    logging.getLogger().removeHandler(world.errors)
    await world.stop_bot()
    await world.fake.close()
    world.fake.uninstall()
    assert not world.fake.unknown_requests, world.fake.unknown_requests
