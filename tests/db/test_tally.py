"""Counter changes are summed and written when their transaction commits, and only then."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.db import Database
from bot.db.models import ItemCount, ScoreBucket
from bot.db.tally import bump

G = 5


def _items(*changes: tuple[str, int]) -> list[dict[str, object]]:
    return [{"guild_id": G, "item_id": item, "members": n} for item, n in changes]


async def _stored(db: Database) -> dict[str, int]:
    async with db.read() as s:
        rows = await s.execute(select(ItemCount.item_id, ItemCount.members))
        return {row.item_id: row.members for row in rows}


async def test_a_sessions_changes_are_summed_and_written_at_commit(db: Database) -> None:
    async with db.write.begin() as s:
        await s.run_sync(bump, ItemCount, _items(("a", 1), ("b", 1)), "members")
        await s.run_sync(bump, ItemCount, _items(("a", 1), ("b", -1), ("c", 2)), "members")
        buckets = [{"guild_id": G, "n": 3, "members": 1}]
        await s.run_sync(bump, ScoreBucket, buckets, "members")
    # b went up and down again: nothing to write for it.
    assert await _stored(db) == {"a": 2, "c": 2}
    async with db.write.begin() as s:  # added to what is stored
        await s.run_sync(bump, ItemCount, _items(("a", -1), ("c", 1)), "members")
    assert await _stored(db) == {"a": 1, "c": 3}
    async with db.read() as s:
        assert (await s.scalars(select(ScoreBucket.members))).all() == [1]


async def test_a_rolled_back_sessions_changes_are_never_written(db: Database) -> None:
    async with db.write() as s:
        await s.run_sync(bump, ItemCount, _items(("a", 1)), "members")
        await s.rollback()
        await s.run_sync(bump, ItemCount, _items(("b", 1)), "members")
        await s.commit()  # the next transaction of the same session writes its own only
    assert await _stored(db) == {"b": 1}

    with pytest.raises(RuntimeError):
        async with db.write.begin() as s:
            await s.run_sync(bump, ItemCount, _items(("b", 5)), "members")
            raise RuntimeError("the unit of work failed")
    assert await _stored(db) == {"b": 1}


async def test_a_fast_units_changes_are_written_with_it_or_not_at_all(db: Database) -> None:
    def change(s: object, fail: bool) -> None:
        bump(s, ItemCount, _items(("a", 1), ("b", 2)), "members")
        bump(s, ScoreBucket, [{"guild_id": G, "n": 1, "members": 1}], "members")
        if fail:
            raise RuntimeError("the unit of work failed")

    await db.run_fast_write(change, False)
    with pytest.raises(RuntimeError):
        await db.run_fast_write(change, True)
    assert await _stored(db) == {"a": 1, "b": 2}
    async with db.read() as s:
        assert (await s.scalars(select(ScoreBucket.members))).all() == [1]
