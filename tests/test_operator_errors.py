"""Errors an operator can act on, and no secret in any of them (processes, and in-process)."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot import cli, logs
from tests.test_cli import REPO, clean_env, run_cli

AS_ROOT = os.geteuid() == 0
OTHER_UID = 65534  # nobody: as root, the tests run the CLI as this user


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder another user can enter (pytest's tmp_path is private to its owner)."""
    folder = Path(tempfile.mkdtemp(prefix="milestone-bot-ops-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in folder.rglob("*"):
            with contextlib.suppress(OSError):
                path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def unprivileged() -> None:
    """Skip when, as root, the interpreter cannot be run by another user (under /root)."""
    if not AS_ROOT:
        return
    try:
        subprocess.run([sys.executable, "-c", "pass"], user=OTHER_UID, check=True, cwd="/")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"uid {OTHER_UID} cannot run {sys.executable}: the in-process tests cover it")


def run_unprivileged(
    *args: str, env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user that does not own the files the test made (nobody, as root)."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**os.environ, "PYTHONPATH": str(REPO), "HOME": str(cwd), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        user=OTHER_UID if AS_ROOT else None,
    )


# --- secrets -----------------------------------------------------------------------------


@pytest.mark.parametrize("command", [("db", "upgrade"), ("run",)])
def test_a_database_password_never_shows(tmp_path: Path, command: tuple[str, ...]) -> None:
    env = {
        **clean_env(),
        "DISCORD_TOKEN": "fake-token-that-must-not-show",
        "DATABASE_URL": "postgresql://bot:hunter2-secret@127.0.0.1:9/bot",  # nothing listens
    }
    result = run_cli(*command, env=env, cwd=tmp_path)
    assert result.returncode in (1, 2)
    output = result.stdout + result.stderr
    assert "hunter2-secret" not in output
    assert "fake-token-that-must-not-show" not in output
    assert "Traceback" not in output
    assert "postgresql+asyncpg://bot:***@127.0.0.1:9/bot" in one_line(result.stderr)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "postgresql://bot:hunter2-secret@db:notaport/bot",
            "DATABASE_URL: not a valid database URL",
        ),
        ("postgres://bot:hunter2-secret%40x@127.0.0.1:9/bot", "bot:***@127.0.0.1:9/bot"),
    ],
)
def test_a_broken_or_escaped_url_hides_its_password(tmp_path: Path, url: str, message: str) -> None:
    result = run_cli("db", "upgrade", env={**clean_env(), "DATABASE_URL": url}, cwd=tmp_path)
    assert result.returncode == 2
    assert message in one_line(result.stderr)
    assert "hunter2-secret" not in result.stdout + result.stderr


def test_the_token_is_masked_in_log_lines(tmp_path: Path) -> None:
    env = {
        **clean_env(),
        "DISCORD_TOKEN": "fake-token-that-must-not-show",
        "DISCORD_API_BASE": "http://127.0.0.1:9/api/v10",
        "LOG_LEVEL": "DEBUG",
    }
    result = run_cli("run", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "fake-token-that-must-not-show" not in result.stdout + result.stderr


# --- the token file ----------------------------------------------------------------------


@pytest.mark.usefixtures("unprivileged")
def test_the_token_file_is_read_only_when_the_token_is_needed(shared_dir: Path) -> None:
    token = shared_dir / "token"
    token.write_text("fake-token\n")
    token.chmod(0o600 if AS_ROOT else 0o000)  # root-owned, or unreadable even by its owner
    env = {
        **clean_env(),
        "DISCORD_TOKEN_FILE": str(token),
        "DATABASE_URL": f"sqlite:///{shared_dir / 'data' / 'bot.sqlite3'}",
    }
    (shared_dir / "data").mkdir()
    (shared_dir / "data").chmod(0o777)
    upgraded = run_unprivileged("db", "upgrade", env=env, cwd=shared_dir)
    assert upgraded.returncode == 0, upgraded.stderr
    result = run_unprivileged("run", env=env, cwd=shared_dir)
    assert result.returncode == 2
    line = one_line(result.stderr)
    uid = OTHER_UID if AS_ROOT else os.geteuid()
    assert f"cannot read DISCORD_TOKEN_FILE {token}: Permission denied" in line
    assert f"uid {uid}" in line and f"chown {uid} {token}" in line


# --- an unwritable folder ----------------------------------------------------------------


@pytest.mark.usefixtures("unprivileged", "sqlite_only")
def test_an_unwritable_sqlite_folder_says_which_path_uid_and_what_to_do(shared_dir: Path) -> None:
    data = shared_dir / "data"  # like a root-owned bind mount as /data
    data.mkdir()
    data.chmod(0o755 if AS_ROOT else 0o555)
    env = {**clean_env(), "DATABASE_URL": f"sqlite:///{data / 'milestones.sqlite3'}"}
    uid = OTHER_UID if AS_ROOT else os.geteuid()
    result = run_unprivileged("db", "upgrade", env=env, cwd=shared_dir)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert f"the folder {data} is not writable by uid {uid}" in line
    assert f"chown -R {uid} {data}" in line and "mount a volume" in line
    deeper = {**env, "DATABASE_URL": f"sqlite:///{data / 'var' / 'milestones.sqlite3'}"}
    result = run_unprivileged("db", "upgrade", env=deeper, cwd=shared_dir)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert f"folder {data / 'var'} cannot be created: its parent {data} is not writable" in line
    assert f"chown -R {uid} {data})" in line


# --- the same, in this process, as any user (uid and permissions simulated) ----------------


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Run a CLI command in this process, as uid 1000, with a clean environment."""
    for name, value in clean_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(cli, "_secrets", [])
    root = logging.getLogger()
    level = root.level

    def run(*args: str, **env: str) -> Any:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)

    yield run
    for handler in list(root.handlers):  # the CLI's handler writes to CliRunner's stream
        if isinstance(handler, logs._Handler):
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.mark.usefixtures("sqlite_only")
def test_in_process_unwritable_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, invoke: Any
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != data and real_access(p, mode))
    result = invoke("db", "upgrade", DATABASE_URL=f"sqlite:///{data / 'milestones.sqlite3'}")
    assert result.exit_code == 2
    line = one_line(result.stderr)
    assert f"the folder {data} is not writable by uid 1000, the user this process runs as" in line
    assert f"chown -R 1000 {data}" in line and "mount a volume" in line
    assert not (data / "milestones.sqlite3").exists()


def test_in_process_unreadable_token_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, invoke: Any
) -> None:
    token = tmp_path / "token"
    token.write_text("fake-token")
    real_read = Path.read_text

    def read_text(self: Path, *args: Any, **kwargs: Any) -> str:
        if self == token:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    env = {"DISCORD_TOKEN_FILE": str(token), "DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}"}
    assert invoke("db", "upgrade", **env).exit_code == 0
    result = invoke("run", **env)
    assert result.exit_code == 2
    line = one_line(result.stderr)
    assert f"cannot read DISCORD_TOKEN_FILE {token}: Permission denied" in line
    assert "(this process runs as uid 1000)" in line
    assert f"chown 1000 {token}" in line
