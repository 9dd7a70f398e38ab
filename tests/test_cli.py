"""The command line as an operator uses it: a real process, pointed at the fake Discord."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakediscord import FakeDiscord
from tests.support.process import TOKEN, BotProcess, bot_env, error_lines

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def clean_env() -> dict[str, str]:
    return {"DISCORD_TOKEN": "", "DATABASE_URL": "", "DEV_GUILD_ID": "", "LOG_LEVEL": "INFO"}


@pytest.fixture
def database_env(empty_db_url: str) -> str:
    """DATABASE_URL for a process: unset (the default SQLite file) or this run's PostgreSQL."""
    return "" if empty_db_url.startswith("sqlite") else empty_db_url


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "DISCORD_TOKEN is not set"),
        ({"DISCORD_TOKEN": "x", "DATABASE_URL": "mysql://db"}, "DATABASE_URL must be a sqlite://"),
        ({"DISCORD_TOKEN": "x", "DEV_GUILD_ID": "abc"}, "DEV_GUILD_ID"),
        ({"DISCORD_TOKEN": "x", "LOG_LEVEL": "LOUD"}, "unknown log level 'LOUD'"),
        ({"DISCORD_TOKEN_FILE": "/nonexistent/token"}, "cannot read DISCORD_TOKEN_FILE"),
    ],
)
def test_bad_settings_stop_with_one_line_and_status_2(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    result = run_cli("run", env={**clean_env(), **env}, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_unreachable_discord_is_one_line_not_a_traceback(tmp_path: Path, database_env: str) -> None:
    env = {
        **clean_env(),
        "DATABASE_URL": database_env,
        "DISCORD_TOKEN": "x",
        "DISCORD_API_BASE": "http://127.0.0.1:9/api/v10",  # nothing listens on port 9
    }
    result = run_cli("run", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "could not reach Discord at http://127.0.0.1:9/api/v10" in result.stderr
    assert "voice will NOT be supported" not in result.stderr


def test_check_data_and_db_upgrade(tmp_path: Path, database_env: str) -> None:
    result = run_cli("check-data", env=clean_env(), cwd=tmp_path)
    assert result.returncode == 0
    assert "5 levels, 92 milestones, 38 checklist items" in result.stdout
    env = {**clean_env(), "DATABASE_URL": database_env}
    result = run_cli("db", "upgrade", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Running upgrade  -> 0001" in result.stderr
    if not database_env:
        assert (tmp_path / "var" / "milestones.sqlite3").exists()
    again = run_cli("db", "upgrade", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "Running upgrade" not in again.stderr


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_run_connects_syncs_answers_and_stops_on_a_signal(
    tmp_path: Path, stop: signal.Signals, database_env: str
) -> None:
    fake = FakeDiscord()
    await fake.start()
    try:
        guild = fake.add_guild(name="Data Guild")
        alice = fake.add_member(guild.id, name="alice")
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            **clean_env(),
            "DATABASE_URL": database_env,
            "DISCORD_TOKEN": "fake-token",
            "DISCORD_API_BASE": fake.api_base,
            "DISCORD_GATEWAY_URL": fake.gateway_url,
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await fake.wait_until_connected(timeout=30)
            for _ in range(300):
                if fake.commands():
                    break
                await asyncio.sleep(0.05)
            assert {c["name"] for c in fake.commands()} >= {"levels", "milestone", "config"}
            await asyncio.sleep(0.5)  # READY follows GUILD_CREATE after guild_ready_timeout
            res = await fake.slash(guild.id, alice.id, "levels")
            await res.final(timeout=10)
            assert "Senior Data Analyst" in res.text()
            if not database_env:  # the default: a SQLite file in ./var
                assert (tmp_path / "var" / "milestones.sqlite3").exists()
        finally:
            proc.send_signal(stop)
            _, stderr = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, stderr.decode()
        assert error_lines(stderr.decode()) == [], stderr.decode()
        assert "stopped in" in stderr.decode()  # the one close ran to its end
    finally:
        await fake.close()


async def test_sync_pushes_the_commands_every_time_and_starts_nothing_else(
    tmp_path: Path,
) -> None:
    fake = FakeDiscord()
    await fake.start()
    try:
        env = bot_env(fake, DATABASE_URL=f"sqlite:///{tmp_path / 'bot.sqlite3'}")
        for attempt in (1, 2):  # The second push is not skipped: `sync` means now.
            async with BotProcess(tmp_path, "sync", env=env) as sync:
                status = await sync.wait(timeout=60)
            log = sync.log()
            assert status == 0, log
            assert "commands synced" in log
            assert error_lines(log) == [], log
            assert TOKEN not in log
            assert len(fake.requests_to("PUT", r"/applications/\d+/commands")) == attempt
        assert {c["name"] for c in fake.commands()} >= {"levels", "milestone", "config"}
        assert fake.identify_payloads == []  # No gateway connection...
        assert "Scheduled" not in log and "connected" not in log  # ... and no scheduler.
    finally:
        await fake.close()


def reconnect_delays(log: str) -> list[float]:
    # The bot is auto-sharded: each shard sleeps in a back-off of its own.
    pattern = r"Attempting a reconnect (?:for shard ID \d+ )?in (\d+\.\d+)s"
    return [float(d) for d in re.findall(pattern, log)]


@pytest.mark.parametrize("hang", [False, True], ids=["refused", "unanswered"])
async def test_sigterm_during_a_gateway_outage_exits_at_once(tmp_path: Path, hang: bool) -> None:
    """Refused: discord.py sleeps in its reconnect back-off, longer each time. Unanswered: it
    waits up to 60 s for a handshake. Either way a stop ends the process at once."""
    fake = FakeDiscord()
    await fake.start()
    try:
        env = bot_env(fake, DATABASE_URL=f"sqlite:///{tmp_path / 'bot.sqlite3'}")
        async with BotProcess(tmp_path, "run", env=env) as bot:
            await fake.wait_until_connected(timeout=60)
            await fake.refuse_gateway(hang=hang)  # The connection drops; REST still works.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 90

            def waiting() -> bool:
                if hang:  # A handshake is under way and will get no answer.
                    return fake.gateway_refusals > 0
                # Asleep in a back-off of 3 s or more.
                return any(delay >= 3 for delay in reconnect_delays(bot.log())[-1:])

            while not waiting():
                assert loop.time() < deadline, bot.log()
                await asyncio.sleep(0.02)
            bot.send(signal.SIGTERM)
            # Before discord.py would have woken from its back-off (or 60 s handshake wait).
            status = await bot.wait(timeout=reconnect_delays(bot.log())[-1] if not hang else 15)
        log = bot.log()
        assert status == 0, log
        stop = log[log.index("stop requested") :]
        assert "stopped in" in stop
        assert error_lines(stop) == [], stop
        assert TOKEN not in log
    finally:
        await fake.close()


@pytest.mark.parametrize(
    ("url", "secrets"),
    [
        ("postgresql://bot:Pw-S3cret-9xQ@127.0.0.1:9/milestones", ["Pw-S3cret-9xQ"]),
        ("postgres://bot:p%40ss%2Fw0rd@127.0.0.1:9/milestones", ["p%40ss%2Fw0rd", "p@ss/w0rd"]),
        ("postgresql://bot:Pw-S3cret-9xQ@127.0.0.1:notaport/milestones", ["Pw-S3cret-9xQ"]),
    ],
)
@pytest.mark.parametrize("command", ["run", "db upgrade"])
def test_a_bad_database_url_never_prints_its_password(
    tmp_path: Path, url: str, secrets: list[str], command: str
) -> None:
    env = {**clean_env(), "DISCORD_TOKEN": TOKEN, "DATABASE_URL": url}
    result = run_cli(*command.split(), env=env, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    # One line that says what is wrong: the migration failed, or the URL cannot be read.
    assert result.stderr.count("\n") == 1, output
    assert (
        "could not migrate the database" in result.stderr
        or "not a valid database URL" in result.stderr
    ), output
    for secret in [*secrets, TOKEN]:
        assert secret not in output
    assert "Traceback" not in output


def test_log_lines_and_tracebacks_mask_the_token_and_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot import logs
    from bot.config import Settings

    password = "Pw-S3cret-9xQ"
    url = f"postgresql://bot:{password}@db.internal/milestones"
    secrets = Settings(DISCORD_TOKEN=TOKEN, DATABASE_URL=url).secrets()
    formatter = logs.make_formatter("text", secrets)
    try:
        raise RuntimeError(f"cannot connect to {url} with {TOKEN}")
    except RuntimeError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "token %s at %s", (TOKEN, url), sys.exc_info()
        )
    line = formatter.format(record)
    assert password not in line and TOKEN not in line
    assert "postgresql://bot:***@db.internal/milestones" in line
