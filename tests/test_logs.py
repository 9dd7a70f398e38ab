"""LOG_FORMAT: one JSON object per line with the context ids; secrets masked in both formats."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import logs
from tests.test_cli import clean_env, run_cli


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    root = logging.getLogger()
    level = root.level
    yield out
    for handler in list(root.handlers):
        if isinstance(handler, logs._Handler):
            root.removeHandler(handler)
    root.setLevel(level)


def test_json_lines_carry_the_context_and_the_exception(stream: io.StringIO) -> None:
    logs.configure("INFO", "json", stream=stream)
    log = logging.getLogger("bot.test")
    log.info("answered %s", "levels", extra={"guild_id": 7, "user_id": 8, "command": "levels"})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed", extra={"interaction_id": 99, "guild_id": None})
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "answered levels"
    assert first["level"] == "INFO" and first["logger"] == "bot.test"
    assert (first["guild_id"], first["user_id"], first["command"]) == (7, 8, "levels")
    assert "interaction_id" not in first and "exception" not in first
    assert first["time"].endswith("+00:00")
    assert second["interaction_id"] == 99 and "guild_id" not in second
    assert second["exception"].startswith("Traceback") and "ValueError: boom" in second["exception"]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_are_masked_in_every_line(stream: io.StringIO, fmt: str) -> None:
    logs.configure("INFO", fmt, secrets=["db-password"], stream=stream)
    logs.add_secret("the-token")
    log = logging.getLogger("bot.test")
    log.warning("connecting to postgresql://bot:db-password@db/bot with the-token")
    try:
        raise RuntimeError("token the-token refused")
    except RuntimeError:
        log.exception("login failed")
    text = stream.getvalue()
    assert "db-password" not in text and "the-token" not in text
    assert "postgresql://bot:***@db/bot with ***" in text
    assert "token *** refused" in text


def test_configure_again_replaces_its_handler(stream: io.StringIO) -> None:
    logs.configure("INFO", "text", stream=stream)
    logs.configure("INFO", "json", stream=stream)
    logging.getLogger("bot.test").info("once")
    assert len(stream.getvalue().splitlines()) == 1
    assert json.loads(stream.getvalue())["message"] == "once"


def test_log_format_json_writes_one_object_per_line(tmp_path: Path) -> None:
    env = {
        **clean_env(),
        "LOG_FORMAT": "json",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
    }
    result = run_cli("db", "upgrade", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    entries = [json.loads(line) for line in result.stderr.splitlines()]
    assert entries, "alembic logs each migration"
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= entry.keys()
    assert any(e["logger"].startswith("alembic") and "0001" in e["message"] for e in entries)
    bad = run_cli("db", "upgrade", env={**env, "LOG_FORMAT": "xml"}, cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "milestone-bot: invalid configuration: LOG_FORMAT: unknown log format 'xml' "
        "(use text or json)"
    ]
