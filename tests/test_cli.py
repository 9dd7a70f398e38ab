"""The command line as an operator uses it: a real process, pointed at the fake Discord."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakediscord import FakeDiscord

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


async def test_run_connects_syncs_answers_and_stops_on_sigterm(
    tmp_path: Path, database_env: str
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
            proc.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, stderr.decode()
        assert b"Traceback" not in stderr
        assert b" ERROR " not in stderr, stderr.decode()  # the close was not cut short
    finally:
        await fake.close()
