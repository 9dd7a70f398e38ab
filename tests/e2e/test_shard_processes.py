"""End to end: two shard processes (`python -m bot run`) on one PostgreSQL database.

SHARD_COUNT=2, one process with SHARD_IDS=0 and one with SHARD_IDS=1, a server on each shard,
the fake Discord on loopback. Each process gets a token of its own, so the fake can tell who
sent what: the IDENTIFY of each gateway connection and every REST request carry it.

The clock: nothing in the bot is faked here. The check-ins are configured, as an admin would,
for the next whole minute (at least LEAD seconds ahead), and the test waits for it: about
half a minute on average. That keeps the processes exactly as in production (no test-only
setting in the bot), and it exercises the real timers, not only the catch-up at start-up.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pytest

import bot.db.migrate as _migrate
from tests.fakediscord import (
    FakeChannel,
    FakeDiscord,
    FakeGuild,
    FakeMember,
    ShardNotConnectedError,
    shard_of,
)
from tests.support.pg import PostgresCluster

REPO = Path(__file__).resolve().parents[2]
MANAGE_GUILD = 1 << 5
SHARDS = 2
LEAD = 12  # seconds from configuring a check-in to its time, at the least
START = 60.0  # seconds a process may take to start (imports, migrations, gateway) when busy
SETTLE = 3.0  # seconds in which a process that should not act would have acted

HEAD_REVISION = sorted((Path(_migrate.MIGRATIONS) / "versions").glob("0*.py"))[-1].name[:4]


class BotProcess:
    """One `python -m bot run` for the shards in `shard_ids`, logging to a file of its own."""

    def __init__(self, shard_id: int, env: dict[str, str], folder: Path, run: int = 1) -> None:
        self.shard_id = shard_id
        self.token = f"token-of-shard-{shard_id}"
        self.env = {**env, "DISCORD_TOKEN": self.token, "SHARD_IDS": str(shard_id)}
        self.folder = folder
        self.log = folder / f"shard-{shard_id}-run-{run}.log"
        self.proc: asyncio.subprocess.Process | None = None
        self._log_file: IO[bytes] | None = None

    async def start(self) -> None:
        self._log_file = self.log.open("wb")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            env=self.env,
            cwd=self.folder,
            stdout=self._log_file,
            stderr=self._log_file,
        )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def kill(self) -> None:
        """SIGKILL: no goodbye to the gateway or the database."""
        assert self.proc is not None
        self.proc.kill()
        await asyncio.wait_for(self.proc.wait(), 30)
        self._close_log()

    async def stop(self) -> int:
        """SIGTERM, as Docker or systemd stop it; SIGKILL if it is not gone in 30 s."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self._close_log()
        assert self.proc.returncode is not None
        return self.proc.returncode

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def text(self) -> str:
        return self.log.read_text(errors="replace")


class Server:
    """A server on one shard: its check-in channel, an admin, a member."""

    def __init__(self, fake: FakeDiscord, shard: int) -> None:
        guild_id = fake.snowflake()
        while shard_of(guild_id, SHARDS) != shard:
            guild_id = fake.snowflake()
        self.fake = fake
        self.shard = shard
        self.guild: FakeGuild = fake.add_guild(name=f"Shard {shard} Guild", guild_id=guild_id)
        self.channel: FakeChannel = fake.add_channel(guild_id, name="checkins")
        self.admin: FakeMember = fake.add_member(
            guild_id, name=f"admin{shard}", permissions=MANAGE_GUILD
        )
        self.member: FakeMember = fake.add_member(guild_id, name=f"member{shard}")

    async def run(self, user: FakeMember, command: str, **options: Any) -> tuple[str, str]:
        """Run a command; return the text answered and the token of the process it went to."""
        res = await self.fake.slash(self.guild.id, user.id, command, options, self.channel.id)
        await res.final(timeout=15)
        return res.text(), res.client_token

    def prompts(self) -> list[dict[str, Any]]:
        return [
            m
            for m in self.fake.channel_messages(self.channel.id)
            if any("Weekly check-in" in (e.get("title") or "") for e in m.get("embeds") or [])
        ]

    def prompt_posters(self) -> list[str | None]:
        """The token of every request that posted a check-in prompt here."""
        posts = self.fake.requests_to("POST", f"/channels/{self.channel.id}/messages")
        return [
            r.token
            for r in posts
            if isinstance(r.json, dict)
            and any("Weekly check-in" in (e.get("title") or "") for e in r.json.get("embeds") or [])
        ]


async def until(
    condition: Callable[[], object], within: float, what: str, *procs: BotProcess
) -> None:
    """Wait (bounded) for `condition`; on a timeout, fail with the processes' last log lines."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            tails = "\n".join(
                f"--- {p.log.name}:\n" + "\n".join(p.text().splitlines()[-15:]) for p in procs
            )
            raise AssertionError(f"{what}: not within {within:.0f}s\n{tails}")
        for p in procs:
            assert p.proc is None or p.proc.returncode is None, f"{p.log.name} exited:\n{p.text()}"
        await asyncio.sleep(0.05)


def next_minute(lead: float) -> dt.datetime:
    """The first whole minute (UTC) at least `lead` seconds from now."""
    now = dt.datetime.now(dt.UTC)
    minute = now.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    while (minute - now).total_seconds() < lead:
        minute += dt.timedelta(minutes=1)
    return minute


async def configure_checkin(server: Server, at: dt.datetime) -> str:
    text, token = await server.run(
        server.admin,
        "config checkins",
        channel=server.channel.id,
        day=at.weekday(),
        time=at.strftime("%H:%M"),
        timezone="UTC",
        open_hours=48,
    )
    assert "Weekly check-ins in" in text, text
    return token


async def test_two_shard_processes_share_one_postgresql_database(
    postgres_only: PostgresCluster, empty_db_url: str, tmp_path: Path
) -> None:
    fake = FakeDiscord()
    await fake.start()
    servers = [Server(fake, shard) for shard in range(SHARDS)]
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DATABASE_URL": empty_db_url,  # no schema yet: both processes start by migrating
        "DISCORD_API_BASE": fake.api_base,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
        "SHARD_COUNT": str(SHARDS),
        "LOG_LEVEL": "INFO",
        "DEV_GUILD_ID": "",
    }
    procs = [BotProcess(shard, env, tmp_path) for shard in range(SHARDS)]
    stopped: list[BotProcess] = []  # stopped with SIGTERM along the way
    first, second = procs
    a, b = servers
    try:
        # Both start at the same moment, on an empty database.
        await asyncio.gather(*(p.start() for p in procs))
        for server in servers:
            await until(
                lambda s=server: fake.shard_connected(s.guild.id),  # type: ignore[misc]
                START,
                f"shard {server.shard} connected",
                *procs,
            )
        await until(lambda: fake.commands(), START, "commands synced", *procs)
        assert sorted(tuple(p["shard"]) for p in fake.identify_payloads) == [(0, 2), (1, 2)]
        tokens = {tuple(p["shard"]): p["token"] for p in fake.identify_payloads}
        assert tokens == {(0, 2): first.token, (1, 2): second.token}
        logs = first.text() + second.text()
        assert logs.count("Running upgrade  -> 0001") == 1, logs  # migrated once
        assert logs.count(f"-> {HEAD_REVISION},") == 1, logs

        # Each server's commands are answered by its own process.
        for server, proc in zip(servers, procs, strict=True):
            text, token = await server.run(server.member, "levels")
            assert "Senior Data Analyst" in text
            assert token == proc.token

        # A check-in at the next whole minute in both servers, each set in its own process.
        at = next_minute(LEAD)
        assert await configure_checkin(a, at) == first.token
        assert await configure_checkin(b, at) == second.token
        # The first process dies before it falls due. The second restarts, so it plans from
        # the database, which holds both servers' schedules now: it must take only its own.
        # (Up before the minute, its timer opens the check-in; later, its catch-up does.)
        await first.kill()
        assert dt.datetime.now(dt.UTC) < at, "too slow: killed after the check-in time"
        assert await second.stop() == 0
        stopped.append(second)
        second = BotProcess(1, env, tmp_path, run=2)
        procs[1] = second
        await second.start()

        # Only the first server stops: Discord has no connection to give the first shard's
        # interactions to, while the second server is served as before.
        await until(lambda: not fake.shard_connected(a.guild.id), 30, "shard 0 gone", second)
        await until(lambda: fake.shard_connected(b.guild.id), START, "shard 1 back", second)
        fake.delivery_timeout = 0.5
        with pytest.raises(ShardNotConnectedError):
            await a.run(a.member, "levels")
        fake.delivery_timeout = 5.0
        text, token = await b.run(b.member, "levels")
        assert "Senior Data Analyst" in text and token == second.token

        # At the minute, the second process opens its server's check-in, and only that.
        wait = (at - dt.datetime.now(dt.UTC)).total_seconds() + START
        await until(lambda: b.prompts(), wait, "the second server's check-in", second)
        await asyncio.sleep(SETTLE)
        assert a.prompts() == []
        assert b.prompt_posters() == [second.token]

        # The first process comes back and catches up, late and once, what fell due.
        first = BotProcess(0, env, tmp_path, run=2)
        procs[0] = first
        await first.start()
        await until(lambda: a.prompts(), START, "the first server's check-in, late", first)
        await until(lambda: fake.shard_connected(a.guild.id), START, "shard 0 back", first)
        await asyncio.sleep(SETTLE)
        assert [len(a.prompts()), len(b.prompts())] == [1, 1]
        assert a.prompt_posters() == [first.token]
        assert b.prompt_posters() == [second.token]
        assert "Running upgrade" not in first.text()  # nothing left to migrate

        for server, proc in ((a, first), (b, second)):
            text, token = await server.run(server.member, "checkin status")
            assert "A check-in is open" in text and token == proc.token

        # A stop with SIGTERM is clean in both.
        codes = [await p.stop() for p in procs]
        for proc in [*stopped, *procs]:
            log = proc.text()
            assert "Traceback" not in log, log
            assert " ERROR " not in log, log
        assert codes == [0, 0], [p.text() for p in procs]
    finally:
        for proc in procs:
            if proc.running:
                await proc.kill()
        await fake.close()
