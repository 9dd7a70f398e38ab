"""A throwaway PostgreSQL cluster for one test session.

`TEST_BACKEND=postgres` makes the fixtures in conftest.py run the service tests on it:
`initdb` into a fresh temporary folder (in /dev/shm when there is one), `pg_ctl start` on a
free 127.0.0.1 port, and at the end `pg_ctl stop` and delete the folder. Nothing is shared
with another run: a run that was killed leaves at most its own folder and server behind, and
the next run reaps those.

Postgres refuses to run as root, so as root (CI) every server command runs as the `postgres`
OS user through `runuser`, in a folder that user owns. Durability is switched off: the
cluster lives for a few seconds and speed is all that matters.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

BACKEND_VARIABLE = "TEST_BACKEND"
DIR_PREFIX = "milestone-bot-pg-"
OWNER_FILE = "owner.pid"
SERVER_USER = "postgres"
SUPERUSER = "postgres"
START_TIMEOUT = 30.0

T = TypeVar("T")


def postgres_requested() -> bool:
    """Whether this test run targets PostgreSQL (`TEST_BACKEND=postgres`)."""
    return os.environ.get(BACKEND_VARIABLE, "sqlite").strip().lower() in {"postgres", "postgresql"}


def find_bin_dir() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres, or None when they are not installed."""
    found = shutil.which("initdb")
    candidates = [Path(found).resolve().parent] if found else []
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    candidates += [Path(p) for p in versions]
    for folder in candidates:
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def _version_key(path: str) -> int:
    version = Path(path).parent.name
    return int(version) if version.isdigit() else 0


def _base_dirs() -> list[Path]:
    """Where clusters live: RAM (/dev/shm) first, where CREATE DATABASE is ~20x faster."""
    shm = Path("/dev/shm")
    ram = [shm] if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else []
    return [*ram, Path(tempfile.gettempdir())]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A killed process may linger as a zombie until its parent reaps it: that one is gone.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


class PostgresCluster:
    """One initdb'd cluster in its own temporary folder, started on a free port."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.as_root = os.geteuid() == 0
        self.root = Path(tempfile.mkdtemp(prefix=DIR_PREFIX, dir=_base_dirs()[0]))
        self.data = self.root / "data"
        self.port = 0
        self._admin: _AdminConnection | None = None

    # --- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        """initdb, then start the server on a free port (retried if the port was taken)."""
        (self.root / OWNER_FILE).write_text(str(os.getpid()))
        if self.as_root:
            try:
                user = pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise RuntimeError(
                    f"running as root, but there is no {SERVER_USER!r} OS user to run "
                    "PostgreSQL as (it refuses to run as root)"
                ) from None
            # The folder must be reachable by the server's user; only it needs to write.
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.root.chmod(0o700)
        self._run(
            "initdb",
            "--pgdata",
            str(self.data),
            "--username",
            SUPERUSER,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--locale",
            "C",
            "--no-sync",
            "--no-instructions",
        )
        error: Exception | None = None
        for _attempt in range(3):
            self.port = _free_port()
            try:
                self._start_server()
            except RuntimeError as exc:  # most likely the port was taken in between
                error = exc
                continue
            self._admin = _AdminConnection(self.dsn("postgres"))
            return
        raise RuntimeError(f"PostgreSQL did not start: {error}")

    def _start_server(self) -> None:
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-c port={self.port}",
                f"-c unix_socket_directories={self.root}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=100",
                "-c shared_buffers=32MB",
                "-c log_min_messages=warning",
            ]
        )
        try:
            self._run(
                "pg_ctl",
                "start",
                "--pgdata",
                str(self.data),
                "--log",
                str(self.root / "server.log"),
                "--options",
                options,
                "--wait",
                "--timeout",
                str(int(START_TIMEOUT)),
                "--silent",
            )
        except subprocess.CalledProcessError as exc:
            self._stop_quietly()
            raise RuntimeError(f"{exc}\n{self.log_tail()}") from exc

    def stop(self) -> None:
        """Stop the server (fast: open sessions are cut) and delete the folder."""
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        self._stop_quietly()
        shutil.rmtree(self.root, ignore_errors=True)

    def _stop_quietly(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self._run("pg_ctl", "stop", "--pgdata", str(self.data), "--mode", "immediate")

    def log_tail(self, lines: int = 20) -> str:
        """The end of the server log, for error messages."""
        try:
            text = (self.root / "server.log").read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        if self.as_root:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        # The server's user may not be able to enter our working folder.
        subprocess.run(command, check=True, cwd=self.root, capture_output=True, text=True)

    # --- databases -------------------------------------------------------------------------

    def dsn(self, database: str) -> str:
        """A libpq-style address for asyncpg."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def url(self, database: str) -> str:
        """A SQLAlchemy URL for the bot (asyncpg driver)."""
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, template: str | None = None) -> None:
        """CREATE DATABASE name [TEMPLATE template] (the template must have no sessions)."""
        sql = f'CREATE DATABASE "{name}"'
        if template is not None:
            sql += f' TEMPLATE "{template}" STRATEGY file_copy'
        self._execute(sql)

    def drop_database(self, name: str) -> None:
        """DROP DATABASE, cutting any session a test left open."""
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _execute(self, sql: str) -> None:
        if self._admin is None:
            raise RuntimeError("the PostgreSQL test cluster is not running")
        self._admin.execute(sql)


class _AdminConnection:
    """One asyncpg connection to the `postgres` database on a private event-loop thread.

    Fixtures are synchronous and pytest-asyncio owns the test's loop, so admin statements
    (CREATE/DROP DATABASE) run on this thread's loop instead.
    """

    def __init__(self, dsn: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pg-admin", daemon=True)
        self._thread.start()
        self._connection: asyncpg.Connection[Any] = self._call(asyncpg.connect(dsn))

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout=60)

    def execute(self, sql: str) -> None:
        self._call(self._connection.execute(sql))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._call(self._connection.close(timeout=5))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()


def reap_stale_clusters(bin_dir: Path) -> None:
    """Stop and delete clusters left behind by runs that were killed.

    A folder is stale when the test process that wrote its owner file is gone; folders of
    runs still in progress (another terminal, another worker) are left alone.
    """
    as_root = os.geteuid() == 0
    folders = [f for base in _base_dirs() for f in base.glob(f"{DIR_PREFIX}*")]
    for folder in folders:
        try:
            owner = int((folder / OWNER_FILE).read_text().strip())
        except (OSError, ValueError):
            # Unreadable, or a run killed between mkdtemp and writing the file: judge by age.
            with contextlib.suppress(OSError):
                if time.time() - folder.stat().st_mtime < 600:
                    continue
            owner = -1
        if owner > 0 and _pid_alive(owner):
            continue
        data = folder / "data"
        if (data / "postmaster.pid").exists():
            command = [str(bin_dir / "pg_ctl"), "stop", "-D", str(data), "-m", "immediate"]
            if as_root:
                command = ["runuser", "-u", SERVER_USER, "--", *command]
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(command, cwd="/", capture_output=True, timeout=30, check=False)
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def running_cluster() -> Iterator[PostgresCluster]:
    """Start a throwaway cluster, yield it, and always stop and delete it afterwards."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise RuntimeError(
            f"{BACKEND_VARIABLE}=postgres but no PostgreSQL server binaries were found "
            "(initdb on PATH or /usr/lib/postgresql/*/bin)"
        )
    reap_stale_clusters(bin_dir)
    cluster = PostgresCluster(bin_dir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
