"""Checks before opening a SQLite file, so a permission problem is one line that says what to do.

Left to SQLite, a root-owned bind mount as /data fails with "unable to open database file",
which names neither the path nor the user. SQLite needs to write the file itself and, in WAL
mode, to create `-wal` and `-shm` files beside it: the folder must be writable too.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url


class StorageError(Exception):
    """The database file or its folder cannot be used; the message is one line."""


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, or None for PostgreSQL and in-memory databases."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if database.startswith("file:"):
        return None  # URI filenames carry their own options; let SQLite judge them.
    return Path(database)


def check_sqlite_writable(url: str) -> None:
    """Raise StorageError when this process could not create or write the SQLite database."""
    path = sqlite_path(url)
    if path is None:
        return
    path = path.absolute()
    folder = path.parent
    uid = os.geteuid()
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise StorageError(f"cannot create the SQLite database {path}: {existing} is not a folder")
    if _read_only(existing):
        raise StorageError(
            f"cannot write the SQLite database {path}: {existing} is on a read-only file system; "
            "mount a writable volume there"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "folder" if existing == folder else f"folder {folder} cannot be created: its parent"
        raise StorageError(
            f"cannot write the SQLite database {path}: the {what} {existing} is not writable "
            f"by uid {uid}, the user this process runs as (SQLite also creates -wal and -shm "
            f"files there): chown it to that uid (chown -R {uid} {existing}) or mount a volume "
            "there (in Docker, a named volume)"
        )
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if candidate.exists() and not os.access(candidate, os.R_OK | os.W_OK):
            raise StorageError(
                f"cannot write the SQLite database {path}: {candidate} is not writable by "
                f"uid {uid}, the user this process runs as: chown it to uid {uid} "
                f"(chown -R {uid} {folder})"
            )


def sqlite_open_hint(url: str) -> str:
    """What to add to SQLite's own "unable to open database file"."""
    path = sqlite_path(url)
    if path is None:
        return ""
    return (
        f" (file {path.absolute()}, this process runs as uid {os.geteuid()}: the folder must be "
        "writable by that user)"
    )


def _read_only(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False
