"""Command line: `milestone-bot [run|sync|check-data|health|db upgrade|db copy|db backup]`."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import aiohttp
import click
import discord
import yarl

from bot import logs
from bot.config import (
    ConfigError,
    Settings,
    database_secrets,
    load_settings,
    masked_url,
    normalise_database_url,
    parseable_url,
)
from bot.db import Database
from bot.db.migrate import upgrade
from bot.db.preflight import StorageError, check_sqlite_writable, sqlite_open_hint
from bot.roadmap import Roadmap, RoadmapError, load_roadmap

if TYPE_CHECKING:
    from bot.bot import MilestoneBot

log = logging.getLogger("bot.cli")

# Values no message may show (the token once read, database passwords): see `fail`.
_secrets: list[str] = []


def fail(message: str, status: int = 2) -> NoReturn:
    """Print one line and exit (status 2: a setting to fix; 1: anything else)."""
    for secret in _secrets:
        message = message.replace(secret, logs.MASK)
    click.echo(f"milestone-bot: {message}", err=True)
    sys.exit(status)


def _keep_secret(secret: str | None) -> None:
    if secret and secret not in _secrets:
        _secrets.append(secret)
        logs.add_secret(secret)


def setup_logging(level: str, fmt: str = "text", secrets: Iterable[str] = ()) -> None:
    """Log to stderr (text with timestamps, or JSON lines); keep discord.py at INFO at most."""
    logs.configure(level, fmt, secrets=secrets, stream=sys.stderr)
    logging.getLogger("discord").setLevel(max(logging.INFO, logging.getLevelName(level)))
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # Alembic, imported only when there is a migration to run, lists its plugins at INFO.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
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


def load() -> Settings:
    """Load settings and set up logging, or exit with one clear line."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        fail(str(exc))
    _secrets[:] = settings.secrets()
    setup_logging(settings.log_level, settings.log_format, _secrets)
    return settings


def prepare() -> tuple[Settings, Roadmap]:
    """Load settings and roadmap, or exit with one clear line."""
    settings = load()
    try:
        roadmap = load_roadmap()
    except RoadmapError as exc:
        fail(str(exc))
    return settings, roadmap


def prepare_connection() -> tuple[Settings, Roadmap, str]:
    """Everything `run` and `sync` need before connecting: settings, content, token, schema."""
    settings, roadmap = prepare()
    try:
        token = settings.token()
    except ConfigError as exc:
        fail(str(exc))
    _keep_secret(token)
    point_discord(settings)
    migrate(settings)
    return settings, roadmap, token


def migrate(settings: Settings) -> None:
    """Apply migrations, or exit with one clear line (the URL's password masked)."""
    url = settings.database_url
    try:
        check_sqlite_writable(url)
    except StorageError as exc:
        fail(str(exc))
    try:
        upgrade(url)
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "unable to open database file" in reason:
            reason += sqlite_open_hint(url)
        fail(f"could not migrate the database at {masked_url(url)}: {reason}")


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
    settings = load()
    migrate(settings)
    click.echo("database is up to date")


class _CopyBar:
    """`db copy`'s progress bar on stderr, labelled with the table being copied."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.width = 0

    def begin(self, rows: Mapping[str, int]) -> None:
        self.width = max((len(name) for name in rows), default=0)
        self.bar = click.progressbar(
            length=max(sum(rows.values()), 1), label="copying".ljust(self.width), file=sys.stderr
        )
        self.bar.__enter__()

    def advance(self, table: str, rows: int) -> None:
        self.bar.label = table.ljust(self.width)
        self.bar.update(rows)

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@db.command("copy")
@click.argument("target_url")
@click.option(
    "--batch-size",
    default=5_000,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Rows read and written at a time.",
)
def db_copy(target_url: str, batch_size: int) -> None:
    """Copy the configured database into the empty database at TARGET_URL, then verify it.

    TARGET_URL is a postgresql:// or sqlite:/// URL. The target is migrated first; a target
    that already holds data is refused. Stop the bot before copying.
    """
    from bot.db.copy import CopyError, copy_database

    settings = load()
    try:
        target = normalise_database_url(target_url)
    except ValueError:
        fail("TARGET_URL must be a sqlite:// or postgresql:// URL")
    for secret in database_secrets(target):
        _keep_secret(secret)
    if not parseable_url(target):
        fail("TARGET_URL is not a valid database URL: check the host, port and escaping")
    bar = _CopyBar()
    try:
        report = asyncio.run(
            copy_database(settings.database_url, target, batch_size=batch_size, progress=bar)
        )
    except CopyError as exc:
        bar.finish()
        fail(str(exc))
    except Exception as exc:
        bar.finish()
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        fail(f"the copy to {masked_url(target)} failed: {reason}", status=1)
    bar.finish()
    width = max(len(t.name) for t in report.tables)
    click.echo(f"copied {report.source} to {report.target}")
    click.echo(f"  {'table':<{width}} {'source':>10} {'target':>10}")
    for table in report.tables:
        mark = "ok" if table.ok else "DIFFERENT"
        click.echo(f"  {table.name:<{width}} {table.source:>10,} {table.target:>10,}  {mark}")
    rate = report.rows / report.seconds if report.seconds > 0 else 0.0
    click.echo(f"{report.rows:,} rows in {report.seconds:.1f} s ({rate:,.0f} rows/s)")
    if report.counter_problems:
        for problem in report.counter_problems:
            click.echo(f"  counters: {problem}")
        inherited = set(report.source_counter_problems)
        same = inherited == set(report.counter_problems)
        fail(
            "the leaderboard counters of the copy disagree with a recount"
            + (" (the source's disagree the same way)" if same else ""),
            status=1,
        )
    if not report.ok:
        fail("row counts of the copy differ from the source", status=1)
    click.echo("verified: row counts match, leaderboard counters match a recount")


@db.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
def db_backup(path: Path, force: bool) -> None:
    """Write a consistent copy of the SQLite database to PATH, while the bot runs."""
    from bot.db.backup import BackupError, backup_sqlite
    from bot.db.preflight import sqlite_path

    settings = load()
    url = settings.database_url
    if url.startswith("postgresql"):
        fail(
            f"db backup copies SQLite databases; {masked_url(url)} is PostgreSQL: "
            "use pg_dump (for example pg_dump --format=custom --file=PATH DBNAME)"
        )
    source = sqlite_path(url)
    if source is None:
        fail(f"{masked_url(url)} is not a SQLite file: nothing to back up")
    try:
        report = backup_sqlite(source, path, force=force)
    except BackupError as exc:
        fail(str(exc))
    rows = sum(report.rows.values())
    click.echo(
        f"backed up {report.source} to {report.target}: {report.bytes:,} bytes, "
        f"{rows:,} rows in {len(report.rows)} tables, integrity_check ok"
    )


@main.command()
@click.option("--timeout", default=3.0, show_default=True, help="Seconds to wait for an answer.")
def health(timeout: float) -> None:
    """Exit 0 when the running bot's /healthz answers 200, else 1 (for Docker's HEALTHCHECK)."""
    import urllib.error
    import urllib.request

    settings = load()
    if settings.metrics_port is None:
        fail("health needs METRICS_PORT: set it (and the bot serves /healthz on that port)")
    host = settings.metrics_host
    if host in ("", "0.0.0.0", "::", "localhost"):
        host = "127.0.0.1"  # A wildcard listens on loopback too.
    url = f"http://{f'[{host}]' if ':' in host else host}:{settings.metrics_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read().decode("utf-8", "replace").strip()
    except urllib.error.HTTPError as exc:
        body = exc.read().decode("utf-8", "replace").strip()
        fail(f"unhealthy: {url} answered {exc.code}: {body[:300]}", status=1)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        fail(f"unhealthy: no answer from {url}: {reason}", status=1)
    click.echo(body)


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
