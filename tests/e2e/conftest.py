"""The end-to-end fixture: the real bot against the fake Discord, on this test's database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.roadmap import Roadmap
from tests.e2e.harness import World, close_world, make_world


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
