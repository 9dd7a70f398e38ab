"""`db backup`: a consistent copy of a SQLite database that another connection writes to."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from bot.db.backup import BackupError, backup_sqlite
from bot.db.migrate import upgrade
from tests.test_cli import clean_env, run_cli

ROWS = 3_000


def migrated(path: Path) -> Path:
    upgrade(f"sqlite+aiosqlite:///{path}")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("BEGIN")
    for n in range(ROWS):  # a few hundred pages, so the backup takes many steps
        write_pair(conn, n)
    conn.execute("COMMIT")
    conn.close()
    return path


def write_pair(conn: sqlite3.Connection, n: int) -> None:
    """One row in each of two tables: a consistent copy has as many of each."""
    conn.execute(
        "INSERT INTO bot_state (key, value, updated_at) VALUES (?, ?, '2026-01-01 00:00:00')",
        (f"key-{n}", "x" * 200),
    )
    conn.execute(
        "INSERT INTO job_runs (job_key, due_at, claimed_at) "
        "VALUES (?, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
        (f"job-{n}",),
    )


class Writer(threading.Thread):
    """Commits pairs of rows in its own connection until told to stop."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.committed = 0
        self.errors: list[BaseException] = []
        self.stop = threading.Event()
        self.progressed = threading.Condition()

    def run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        try:
            n = ROWS
            while not self.stop.is_set():
                conn.execute("BEGIN IMMEDIATE")
                write_pair(conn, n)
                conn.execute("COMMIT")
                n += 1
                with self.progressed:
                    self.committed += 1
                    self.progressed.notify_all()
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            conn.close()

    def wait_for(self, commits: int) -> None:
        with self.progressed:
            assert self.progressed.wait_for(
                lambda: self.committed >= commits or bool(self.errors), timeout=60
            )


def counts(path: Path) -> tuple[int, int, str]:
    conn = sqlite3.connect(path)
    try:
        state = conn.execute("SELECT count(*) FROM bot_state").fetchone()[0]
        jobs = conn.execute("SELECT count(*) FROM job_runs").fetchone()[0]
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
        return state, jobs, check
    finally:
        conn.close()


@pytest.mark.usefixtures("sqlite_only")  # SQLite's backup API
def test_backup_while_another_connection_writes(tmp_path: Path) -> None:
    source = migrated(tmp_path / "live.sqlite3")
    writer = Writer(source)
    writer.start()
    steps: list[int] = []

    def on_step(remaining: int, total: int) -> None:
        steps.append(remaining)
        if len(steps) in (1, 3):  # the writer commits while the backup is under way
            writer.wait_for(writer.committed + 20)

    try:
        report = backup_sqlite(source, tmp_path / "copy.sqlite3", pages_per_step=8, on_step=on_step)
    finally:
        writer.stop.set()
        writer.join()
    assert writer.errors == []
    assert len(steps) > 3 and steps[-1] == 0
    assert steps == sorted(steps, reverse=True)  # never restarted from the first page
    state, jobs, check = counts(tmp_path / "copy.sqlite3")
    assert check == "ok"
    assert state == jobs >= ROWS  # one snapshot: both tables as of the same commit
    assert report.rows["bot_state"] == state
    assert counts(source)[0] >= state + 40
    assert not (tmp_path / "copy.sqlite3-wal").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if "partial" in p.name) == []


@pytest.mark.usefixtures("sqlite_only")  # SQLite's backup API
def test_backup_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    source = migrated(tmp_path / "live.sqlite3")
    target = tmp_path / "copy.sqlite3"
    target.write_text("an older backup")
    with pytest.raises(BackupError, match="already exists: give another path, or --force"):
        backup_sqlite(source, target)
    assert target.read_text() == "an older backup"
    backup_sqlite(source, target, force=True)
    assert counts(target)[2] == "ok"
    with pytest.raises(BackupError, match="is the database itself"):
        backup_sqlite(source, source, force=True)
    with pytest.raises(BackupError, match="no SQLite database at"):
        backup_sqlite(tmp_path / "missing.sqlite3", tmp_path / "x.sqlite3")


@pytest.mark.usefixtures("sqlite_only")  # SQLite's backup API
def test_db_backup_command(tmp_path: Path) -> None:
    source = migrated(tmp_path / "live.sqlite3")
    env = {**clean_env(), "DATABASE_URL": f"sqlite:///{source}"}
    result = run_cli("db", "backup", "nightly.sqlite3", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "integrity_check ok" in result.stdout
    assert counts(tmp_path / "nightly.sqlite3")[:2] == (ROWS, ROWS)
    again = run_cli("db", "backup", "nightly.sqlite3", env=env, cwd=tmp_path)
    assert again.returncode == 2
    assert again.stderr.strip().splitlines() == [
        f"milestone-bot: {tmp_path / 'nightly.sqlite3'} already exists: "
        "give another path, or --force to replace it"
    ]
    forced = run_cli("db", "backup", "--force", "nightly.sqlite3", env=env, cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr


def test_db_backup_on_postgresql_points_to_pg_dump(tmp_path: Path) -> None:
    env = {**clean_env(), "DATABASE_URL": "postgresql://bot:hunter2-secret@db.internal/bot"}
    result = run_cli("db", "backup", "x.dump", env=env, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "pg_dump" in lines[0]
    assert "postgresql+asyncpg://bot:***@db.internal/bot" in lines[0]
    assert "hunter2-secret" not in result.stderr + result.stdout
