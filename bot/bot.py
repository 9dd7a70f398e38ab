"""The Bot subclass: services, extensions, command sync and error handling."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands
from sqlalchemy import select

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.db import Database, upsert
from bot.db.models import BotState
from bot.roadmap import Roadmap
from bot.scheduler import Scheduler
from bot.services.container import Services, build
from bot.ui.replies import IN_A_SERVER, handle_error, reply
from bot.ui.texts import DM_FAILED

log = logging.getLogger(__name__)

INITIAL_EXTENSIONS = (
    "cogs.levels",
    "cogs.milestones",
    "cogs.progress",
    "cogs.mydata",
    "cogs.checkins",
    "cogs.reminders",
    "cogs.admin",
)


class Tree(app_commands.CommandTree["MilestoneBot"]):
    """Command tree that keeps server commands in servers and turns errors into replies."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.guild_id is None:
            if interaction.type is discord.InteractionType.application_command:
                await interaction.response.send_message(IN_A_SERVER, ephemeral=True)
            elif interaction.type is discord.InteractionType.autocomplete:
                await interaction.response.autocomplete([])
            return False
        return True

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        command = interaction.command.qualified_name if interaction.command else "?"
        await handle_error(interaction, error, f"command /{command}")


class MilestoneBot(commands.Bot):
    """The career milestones bot."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        roadmap: Roadmap,
        *,
        extensions: tuple[str, ...] = INITIAL_EXTENSIONS,
        clock: Clock | None = None,
        **options: Any,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # Channels and roles in cache; no privileged intent at all.
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=Tree,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            **options,
        )
        self.settings = settings
        self.db = db
        self.roadmap = roadmap
        self.extensions_to_load = extensions
        self.clock: Clock = clock or SystemClock()
        self.services: Services = build(db, roadmap, self.clock)
        # Features register their kinds of job with it when their cog loads.
        self.scheduler = Scheduler(
            db,
            self.clock,
            record_error=self.services.guilds.record_error,
            owns_guild=self.owns_guild,
        )
        self._checkpoints: asyncio.Task[None] | None = None

    def owns_guild(self, guild_id: int) -> bool:
        """Whether this shard process runs the scheduled work of a server."""
        if self.shard_count is None or self.shard_count <= 1:
            return True
        return (guild_id >> 22) % self.shard_count == (self.shard_id or 0)

    async def setup_hook(self) -> None:
        for extension in self.extensions_to_load:
            await self.load_extension(extension)
        await self.sync_commands(force=False)
        # REST is logged in here, so late runs can post before the gateway is up.
        await self.scheduler.start()
        self._checkpoints = asyncio.create_task(self._checkpoint_loop(), name="db-checkpoints")

    async def _checkpoint_loop(self, every: float = 15) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self.db.checkpoint()
            except Exception:
                log.exception("database checkpoint failed")

    def _sync_target(self) -> discord.Object | None:
        if self.settings.dev_guild_id is None:
            return None
        guild = discord.Object(self.settings.dev_guild_id)
        self.tree.copy_global_to(guild=guild)
        return guild

    def command_hash(self) -> str:
        """A hash of the command tree as Discord would receive it."""
        guild = self._sync_target()
        payload = [c.to_dict(self.tree) for c in self.tree.get_commands(guild=guild)]
        blob = json.dumps(payload, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()

    async def sync_commands(self, *, force: bool) -> bool:
        """Push commands to Discord when the tree changed since the last sync."""
        guild = self._sync_target()
        key = f"commands:{guild.id if guild else 'global'}:{self.application_id}"
        digest = self.command_hash()
        async with self.db.read() as s:
            stored = await s.scalar(select(BotState.value).where(BotState.key == key))
        if stored == digest and not force:
            log.info("commands unchanged since the last sync: not syncing")
            return False
        synced = await self.tree.sync(guild=guild)
        now = self.clock.now()
        async with self.db.write.begin() as s:
            await s.execute(
                upsert(s, BotState)
                .values(key=key, value=digest, updated_at=now)
                .on_conflict_do_update(
                    index_elements=["key"], set_={"value": digest, "updated_at": now}
                )
            )
        log.info(
            "synced %d commands %s", len(synced), f"to guild {guild.id}" if guild else "globally"
        )
        return True

    async def on_app_command_completion(
        self, interaction: discord.Interaction, _command: object
    ) -> None:
        # A member whose reminder DMs failed is told once, at their next command.
        if interaction.guild_id is None:
            return
        reminders = self.services.reminders
        if await reminders.take_dm_failure_notice(interaction.guild_id, interaction.user.id):
            await reply(interaction, f"⚠️ {DM_FAILED}")

    async def on_ready(self) -> None:
        log.info(
            "connected as %s (%s) to %d servers", self.user, self.application_id, len(self.guilds)
        )
        # What start-up built (the cache of every server, the roadmap, the command tree) lives
        # as long as the process: out of the cyclic collector's way, which would otherwise
        # walk all of it on each full collection.
        gc.collect()
        gc.freeze()

    async def close(self) -> None:
        self.scheduler.shutdown()
        if self._checkpoints is not None:
            self._checkpoints.cancel()
        # Let event handlers in flight (on_app_command_completion writes to the database and
        # may reply) finish first: a task cut off mid-transaction leaks its connection.
        running = [
            t
            for t in asyncio.all_tasks()
            if t.get_name().startswith("discord.py: on_") and t is not asyncio.current_task()
        ]
        if running:
            await asyncio.wait(running, timeout=5)
        await super().close()
        await self.db.dispose()
