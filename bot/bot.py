"""The Bot subclass: services, extensions, command sync and error handling."""

from __future__ import annotations

import asyncio
import contextlib
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
from bot.defaults import STOP_GRACE
from bot.inflight import InFlight
from bot.metrics import HealthServer, Metrics, make_health_check, ping_database, pool_checked_out
from bot.roadmap import Roadmap
from bot.scheduler import Scheduler
from bot.services.container import Services, build
from bot.ui.cards import CardRenderer
from bot.ui.deferral import answer_unhandled, watch
from bot.ui.pictures import Avatars
from bot.ui.render import clip
from bot.ui.replies import IN_A_SERVER, handle_error, reply, user_message
from bot.ui.texts import DM_FAILED, decision_text

log = logging.getLogger(__name__)

CARDS_CLOSE = 2.0  # seconds a stop waits for the card worker to end

INITIAL_EXTENSIONS = (
    "cogs.levels",
    "cogs.milestones",
    "cogs.progress",
    "cogs.mydata",
    "cogs.checkins",
    "cogs.reminders",
    "cogs.reviews",
    "cogs.admin",
    "cogs.assess",
    "cogs.projects",
)


class Tree(app_commands.CommandTree["MilestoneBot"]):
    """Command tree that keeps server commands in servers, answers every command in time
    (bot/ui/deferral.py) and turns errors into replies."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.type is discord.InteractionType.application_command:
            watch(interaction)
        if not await self.client.inflight.admit(interaction):
            return False  # The bot is stopping: the member was told to try again.
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
        self.client.record(interaction, "user_error" if user_message(error) else "error")
        await handle_error(interaction, error, f"command /{command}")


class MilestoneBot(commands.AutoShardedBot):
    """The career milestones bot.

    Always auto-sharded, so one code path serves every size: SHARD_COUNT and SHARD_IDS pick
    the shards this process runs; with neither, it runs all the shards Discord recommends
    (one, below 2,500 servers).
    """

    def __init__(
        self,
        settings: Settings,
        db: Database,
        roadmap: Roadmap,
        *,
        extensions: tuple[str, ...] = INITIAL_EXTENSIONS,
        clock: Clock | None = None,
        sync_only: bool = False,
        **options: Any,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # Channels and roles in cache; no privileged intent at all.
        shards: dict[str, Any] = {}  # None of them: Discord says how many, all run here.
        if settings.shard_count is not None:
            shards["shard_count"] = settings.shard_count
        if settings.shard_ids is not None:
            shards["shard_ids"] = list(settings.shard_ids)
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=Tree,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            **shards,
            **options,
        )
        self.settings = settings
        self.db = db
        self.roadmap = roadmap
        self.extensions_to_load = extensions
        self.clock: Clock = clock or SystemClock()
        self.services: Services = build(db, roadmap, self.clock)
        self.metrics = Metrics()
        self.metrics.watch_gateway(self._latencies)
        self.metrics.watch_pool(pool_checked_out(*db.engines()))
        self.health: HealthServer | None = None
        # Pictures: the renderer starts in setup_hook (its worker is a process of its own).
        self.cards: CardRenderer | None = None
        self.avatars = Avatars(lambda url: self.http.get_from_cdn(url))
        self._cards_warm_up: asyncio.Task[None] | None = None
        # Features register their kinds of job with it when their cog loads.
        self.scheduler = Scheduler(
            db,
            self.clock,
            record_error=self.services.guilds.record_error,
            owns_guild=self.owns_guild,
            on_run=self.metrics.record_run,
        )
        self.sync_only = sync_only
        self.set_up = False
        self.inflight = InFlight()
        self._checkpoints: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._stop: asyncio.Task[None] | None = None
        # A click or form whose view is gone (a restart, a timeout) still gets an answer.
        self.add_listener(answer_unhandled, "on_interaction")

    def owns_guild(self, guild_id: int) -> bool:
        """Whether this process runs the scheduled work of a server: it holds its shard."""
        if self.shard_ids is None or self.shard_count is None:
            return True  # Every shard runs here.
        return (guild_id >> 22) % self.shard_count in self.shard_ids

    def _latencies(self) -> list[tuple[int | None, float]]:
        return list(self.latencies)

    def _shards_connected(self) -> dict[int, bool]:
        """Each shard this process runs, and whether it is connected (none before start)."""
        if self.shard_count is None:
            return {}  # Not asked Discord yet how many there are.
        ready = self.is_ready() and not self.is_closed()
        ids = self.shard_ids if self.shard_ids is not None else range(self.shard_count)
        states = {}
        for shard_id in ids:
            shard = self.get_shard(shard_id)
            states[shard_id] = ready and shard is not None and not shard.is_closed()
        return states

    def record(self, interaction: discord.Interaction, outcome: str) -> None:
        """Count an answered command for /metrics, with its time since Discord created it."""
        command = interaction.command.qualified_name if interaction.command else "?"
        seconds = (discord.utils.utcnow() - interaction.created_at).total_seconds()
        self.metrics.record_interaction(command, outcome, max(seconds, 0.0))

    async def _start_health(self) -> None:
        port = self.settings.metrics_port
        if port is None:
            return
        check = make_health_check(
            shards=self._shards_connected,
            database=lambda: ping_database(self.db.engine),
        )
        self.health = HealthServer(self.metrics, check, host=self.settings.metrics_host, port=port)
        await self.health.start()

    async def setup_hook(self) -> None:
        await self._start_health()
        for extension in self.extensions_to_load:
            await self.load_extension(extension)
        if self.sync_only:  # `milestone-bot sync`: push the commands, start nothing.
            await self.sync_commands(force=True)
            return
        await self.sync_commands(force=False)
        self._start_cards()
        # REST is logged in here, so late runs can post before the gateway is up.
        await self.scheduler.start()
        self._checkpoints = asyncio.create_task(self._checkpoint_loop(), name="db-checkpoints")
        self.set_up = True

    def _start_cards(self) -> None:
        workers = self.settings.card_workers
        self.cards = CardRenderer(workers=max(workers, 1), processes=workers > 0)
        # The worker loads its fonts while the bot connects, not before.
        self._cards_warm_up = asyncio.create_task(self.cards.start(), name="cards-warm-up")

    async def _close_cards(self) -> None:
        if self.cards is None:
            return
        warm_up = self._cards_warm_up
        if warm_up is not None:
            # Let it end rather than cancel it: a cancelled gather of executor futures is
            # logged by asyncio as an exception never retrieved.
            await asyncio.wait({warm_up}, timeout=CARDS_CLOSE)
            if not warm_up.done():
                warm_up.cancel()
        # Waits for a card being drawn (the drain let it finish), off the event loop.
        try:
            await asyncio.wait_for(asyncio.to_thread(self.cards.close), CARDS_CLOSE)
        except TimeoutError:
            log.warning("stopping: the card worker did not stop within %ss", CARDS_CLOSE)

    async def _checkpoints_ended(self) -> None:
        if self._checkpoints is not None:
            await asyncio.wait({self._checkpoints}, timeout=STOP_GRACE)

    async def _checkpoint_loop(self, every: float = 15) -> None:
        # Ends at a stop between two checkpoints, never inside one (which holds a connection).
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), every)
                return
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
        self.record(interaction, "ok")
        self.inflight.track()  # It writes to the database: a stop waits for it.
        # A member whose reminder DMs failed is told once, at their next command.
        if interaction.guild_id is None:
            return
        reminders = self.services.reminders
        if await reminders.take_dm_failure_notice(interaction.guild_id, interaction.user.id):
            await reply(interaction, f"⚠️ {DM_FAILED}")
        # So are review decisions that could not be DMed.
        notices = await self.services.reviews.take_notices(
            interaction.guild_id, interaction.user.id
        )
        if notices:
            lines = "\n\n".join(decision_text(n) for n in notices)
            await reply(interaction, clip(f"📬 Reviews of your submissions:\n\n{lines}", 2000))

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
        """Stop: finish the work in flight, then close the gateway and the database. Once.

        A second call (discord.py's own, the command line's) waits for the first.
        """
        if self._stop is None:
            self._stop = asyncio.create_task(self._shut_down(), name="bot-stop")
        await asyncio.shield(self._stop)

    async def _shut_down(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        # From here on, interactions that arrive are answered "restarting" (the gateway stays
        # open meanwhile, so they are answered rather than left to "did not respond").
        self.inflight.stopping = True
        self._stopping.set()
        busy = len(self.inflight)
        if busy:
            log.info("stopping: waiting for %d interaction(s) in flight", busy)
        # A task cut off mid-transaction would leak its connection: let the work finish.
        left, scheduler_done, _ = await asyncio.gather(
            self.inflight.drain(STOP_GRACE),
            self.scheduler.stop(STOP_GRACE),
            self._checkpoints_ended(),
        )
        if left:
            log.warning(
                "stopping: %d interaction(s) still running after %ss: cut off", left, STOP_GRACE
            )
            await self.inflight.cut_off()
        if not scheduler_done:
            log.warning("stopping: scheduled runs still under way after %ss: cut off", STOP_GRACE)
        await super().close()
        if self.health is not None:
            await self.health.stop()
        await self._close_cards()
        await self.db.dispose()
        log.info("stopped in %.1fs", loop.time() - started)
