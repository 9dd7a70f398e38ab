"""Shared fixtures: a migrated SQLite file per test, copied from one template."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.db import Database
from bot.db.migrate import upgrade
from bot.roadmap import Roadmap, load_roadmap
from tests.harness import World, close_world, make_world


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the real migrations once; tests start from a copy of the result."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def db_url(tmp_path: Path, migrated_template: Path) -> str:
    """A fresh, migrated SQLite database file for this test."""
    path = tmp_path / "bot.sqlite3"
    shutil.copy(migrated_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """A Database on this test's own SQLite file."""
    database = Database(db_url)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
def roadmap() -> Roadmap:
    """The shipped roadmap content."""
    return load_roadmap()


@pytest.fixture
async def world(roadmap: Roadmap, db_url: str) -> AsyncIterator[World]:
    """The real bot connected to a fake Discord with one server."""
    w = await make_world(roadmap, db_url)
    try:
        await w.start_bot()
        yield w
    finally:
        await close_world(w)
    unexpected = [r.getMessage() for r in w.errors.records]
    assert not unexpected, f"errors were logged: {unexpected}"
