"""Command line: `milestone-bot [run|db upgrade|sync|check-data]`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import sys
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import quote, quote_plus

import aiohttp
import click
import discord
import yarl
from sqlalchemy.engine import make_url

from bot.config import ConfigError, Settings, load_settings
from bot.db import Database
from bot.db.migrate import upgrade
from bot.roadmap import Roadmap, RoadmapError, load_roadmap

if TYPE_CHECKING:
    from bot.bot import MilestoneBot

log = logging.getLogger("bot.cli")

# The token and the database password, as they could appear in a line: never printed.
_secrets: list[str] = []
_SHORTEST_SECRET = 4  # Masking shorter strings would mangle every line.


def hide_secrets(settings: Settings) -> None:
    """Mask the token and the database password in every line printed or logged from now on."""
    found: set[str] = set()
    if settings.discord_token is not None:
        found.add(settings.discord_token.get_secret_value())
    url = settings.database_url
    passwords = set(re.findall(r"^[\w+.-]+://[^:/@]*:([^@/]*)@", url))
    with contextlib.suppress(Exception):  # A URL SQLAlchemy cannot read: the pattern serves.
        passwords.add(make_url(url).password or "")
    for password in passwords:
        found |= {password, quote(password, safe=""), quote_plus(password)}
    _secrets[:] = sorted((s for s in found if len(s) >= _SHORTEST_SECRET), key=len, reverse=True)


def redact(text: str) -> str:
    """The text with every known secret replaced by `***`."""
    for secret in _secrets:
        text = text.replace(secret, "***")
    return text


class RedactingFormatter(logging.Formatter):
    """A formatter whose lines (tracebacks included) never show a secret."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def _print_uncaught(
    kind: type[BaseException], error: BaseException, tb: TracebackType | None
) -> None:
    sys.stderr.write(redact("".join(traceback.format_exception(kind, error, tb))))


def fail(message: str, status: int = 2) -> NoReturn:
    """Print one line and exit (status 2: a setting to fix; 1: anything else)."""
    click.echo(f"milestone-bot: {redact(message)}", err=True)
    sys.exit(status)


def setup_logging(level: str) -> None:
    """Log to stderr with timestamps; keep discord.py's chatter at INFO at most."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    sys.excepthook = _print_uncaught
    logging.getLogger("discord").setLevel(max(logging.INFO, logging.getLevelName(level)))
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # The bot never joins voice: discord.py's warning about its missing voice library is noise.
    logging.getLogger("discord.client").addFilter(
        lambda record: "voice will NOT be supported" not in record.getMessage()
    )


def point_discord(settings: Settings) -> None:
    """Send REST and gateway traffic through the configured proxy (or fake), if any."""
    if settings.discord_api_base:
        discord.http.Route.BASE = settings.discord_api_base
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def prepare() -> tuple[Settings, Roadmap]:
    """Load settings and roadmap, or exit with one clear line."""
    try:
        settings = load_settings()
        roadmap = load_roadmap()
    except (ConfigError, RoadmapError) as exc:
        fail(str(exc))
    hide_secrets(settings)
    setup_logging(settings.log_level)
    return settings, roadmap


def prepare_connection() -> tuple[Settings, Roadmap, str]:
    """Everything `run` and `sync` need before connecting: settings, content, token, schema."""
    settings, roadmap = prepare()
    try:
        token = settings.token()
    except ConfigError as exc:
        fail(str(exc))
    point_discord(settings)
    migrate(settings)
    return settings, roadmap, token


def migrate(settings: Settings) -> None:
    """Apply migrations, or exit with one clear line."""
    try:
        upgrade(settings.database_url)
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        fail(f"could not migrate the database at {settings.database_url}: {reason}")


async def _with_bot(
    settings: Settings,
    roadmap: Roadmap,
    action: Callable[[MilestoneBot], Awaitable[None]],
    *,
    sync_only: bool = False,
) -> None:
    from bot.bot import MilestoneBot

    bot = MilestoneBot(settings, Database(settings.database_url), roadmap, sync_only=sync_only)
    try:
        await action(bot)
    finally:
        # The one close: awaited here, inside the event loop, so asyncio.run never cancels it.
        await bot.close()


async def serve(bot: MilestoneBot, token: str) -> None:
    """Serve until Discord ends the connection or SIGTERM/SIGINT asks for a stop.

    A stop answers what is in flight and closes everything (`MilestoneBot.close`), then ends
    the connection task, which may be asleep in discord.py's reconnect back-off.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    client = asyncio.create_task(bot.start(token), name="discord-client")
    signalled = asyncio.create_task(stop.wait(), name="stop-signal")
    await asyncio.wait({client, signalled}, return_when=asyncio.FIRST_COMPLETED)
    if client.done():
        signalled.cancel()
        client.result()  # Raise what ended it (a refused token, an unreachable Discord).
        return
    log.info("stop requested: finishing the interactions in flight, then closing")
    if not bot.set_up:
        # Still logging in or setting up: nothing is served yet, nothing to finish.
        client.cancel()
        await asyncio.wait({client})
    await bot.close()
    # The gateway is closed: what is left of the connection task is at most a back-off sleep
    # or a handshake that would never be used. End it now, and leave the loop.
    client.cancel()
    await asyncio.wait({client})
    if not client.cancelled() and client.exception() is not None:
        log.warning("the Discord connection ended with %r during the stop", client.exception())


def _connect(work: Coroutine[Any, Any, None]) -> None:
    """Run `work` (which logs in to Discord), turning what can go wrong into one line."""
    try:
        asyncio.run(work)
    except discord.LoginFailure:
        fail("Discord refused the token: check DISCORD_TOKEN")
    except (aiohttp.ClientError, OSError) as exc:
        fail(f"could not reach Discord at {discord.http.Route.BASE}: {exc}", status=1)
    except discord.PrivilegedIntentsRequired:
        fail("Discord asks for a privileged intent; this bot needs none. Please report it.")
    except KeyboardInterrupt:  # Before the event loop handles signals itself.
        pass


@click.group(invoke_without_command=True)
@click.pass_context
def main(ctx: click.Context) -> None:
    """The career milestones Discord bot. With no command, runs the bot."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(run)


@main.command()
def run() -> None:
    """Migrate the database, then connect to Discord and serve."""
    settings, roadmap, token = prepare_connection()

    async def until_stopped(bot: MilestoneBot) -> None:
        await serve(bot, token)

    _connect(_with_bot(settings, roadmap, until_stopped))


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all database migrations."""
    settings, _ = prepare()
    migrate(settings)
    click.echo("database is up to date")


@main.command()
def sync() -> None:
    """Push the slash commands to Discord now (even if unchanged since the last sync)."""
    settings, roadmap, token = prepare_connection()

    async def push(bot: MilestoneBot) -> None:
        # Logging in runs setup_hook, which loads the features and, with sync_only, pushes the
        # commands and starts nothing else: no scheduler, no gateway.
        await bot.login(token)

    _connect(_with_bot(settings, roadmap, push, sync_only=True))
    click.echo("commands synced")


@main.command("check-data")
@click.argument("path", required=False, type=click.Path(exists=True, file_okay=False))
def check_data(path: str | None) -> None:
    """Validate the roadmap content in data/ (or PATH)."""
    from pathlib import Path

    try:
        roadmap = load_roadmap(Path(path) if path else None)
    except RoadmapError as exc:
        fail(str(exc))
    milestones = sum(len(i) for lvl in roadmap.levels for i in lvl.milestones.values())
    checklist = sum(len(lvl.checklist) for lvl in roadmap.levels)
    click.echo(
        f"roadmap ok: {len(roadmap.levels)} levels, {milestones} milestones, "
        f"{checklist} checklist items, {len(roadmap.phases)} phases, "
        f"{len(roadmap.principles)} principles"
    )
