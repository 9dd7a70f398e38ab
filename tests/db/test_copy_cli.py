"""`milestone-bot db copy` as a process: progress, summary, refusals, no password shown."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.roadmap import Roadmap
from tests.db.test_copy import seeded_sqlite
from tests.test_cli import clean_env, run_cli

# SQLite to PostgreSQL and back, in both passes alike: run once.
pytestmark = pytest.mark.usefixtures("own_databases")

PASSWORD = "hunter2-secret"


async def test_db_copy_to_postgres_and_back(
    tmp_path: Path, roadmap: Roadmap, empty_pg: Callable[[], str]
) -> None:
    await seeded_sqlite(tmp_path / "laptop.sqlite3", roadmap)
    env = {**clean_env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'laptop.sqlite3'}"}
    # The test cluster trusts every local connection: the password is sent and ignored.
    target = empty_pg().replace(
        "postgresql+asyncpg://postgres@", f"postgres://postgres:{PASSWORD}@"
    )

    result = run_cli("db", "copy", target, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert "to postgresql+asyncpg://postgres:***@127.0.0.1:" in result.stdout
    assert "verified: row counts match, leaderboard counters match a recount" in result.stdout
    completions = next(line for line in result.stdout.splitlines() if "completions" in line)
    assert completions.split()[1] == completions.split()[2] != "0"
    assert "completions" in result.stderr  # the progress bar names the table it copies

    again = run_cli("db", "copy", target, env=env, cwd=tmp_path)
    assert again.returncode == 2
    lines = again.stderr.strip().splitlines()
    assert lines[-1].startswith("milestone-bot: the target postgresql+asyncpg://postgres:***@")
    assert "already holds data" in lines[-1]
    assert [line for line in lines if line.startswith("milestone-bot:")] == lines[-1:]
    assert PASSWORD not in again.stdout + again.stderr

    back = run_cli(
        "db",
        "copy",
        f"sqlite:///{tmp_path / 'back.sqlite3'}",
        env={**env, "DATABASE_URL": target},
        cwd=tmp_path,
    )
    assert back.returncode == 0, back.stderr
    assert "copied postgresql+asyncpg://postgres:***@" in back.stdout
    assert back.stdout.splitlines()[1:-2] == result.stdout.splitlines()[1:-2]  # same counts


def test_db_copy_refuses_a_bad_target_url(tmp_path: Path) -> None:
    env = {**clean_env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"}
    result = run_cli("db", "copy", "mysql://db/x", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "milestone-bot: TARGET_URL must be a sqlite:// or postgresql:// URL"
    )


def test_db_copy_never_shows_a_password(tmp_path: Path) -> None:
    source = {**clean_env(), "DATABASE_URL": f"postgresql://bot:{PASSWORD}@127.0.0.1:9/bot"}
    result = run_cli("db", "copy", f"sqlite:///{tmp_path / 'c.db'}", env=source, cwd=tmp_path)
    assert result.returncode == 1
    assert PASSWORD not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_a_copy_target_password_never_shows(tmp_path: Path) -> None:
    env = {**clean_env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"}
    assert run_cli("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    target = f"postgresql://bot:{PASSWORD}@127.0.0.1:9/bot"
    result = run_cli("db", "copy", target, env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert PASSWORD not in result.stdout + result.stderr
    assert "the copy to postgresql+asyncpg://bot:***@127.0.0.1:9/bot failed" in result.stderr
