"""`db copy`: SQLite to PostgreSQL and back, every row and every answer the same."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from bot.db import Database
from bot.db.copy import CopyError, TargetNotEmptyError, copy_database
from bot.db.migrate import upgrade
from bot.db.models import AuditEntry, CheckinCycle, Member
from bot.roadmap import Roadmap
from bot.services.checkins import CheckinService
from bot.services.progress import ProgressService
from bot.weekly import WeeklyTime
from tests.db.seed import GUILDS, NEW_YORK, Seeded, all_rows, pages, progress_of, seed
from tests.support.fakes import FakeClock

# SQLite to PostgreSQL and back, in both passes alike: run once.
pytestmark = pytest.mark.usefixtures("own_databases")


class Recorder:
    """A Progress that keeps what it was told."""

    def __init__(self) -> None:
        self.totals: dict[str, int] = {}
        self.done: dict[str, int] = {}
        self.batches = 0

    def begin(self, rows: Mapping[str, int]) -> None:
        self.totals = dict(rows)

    def advance(self, table: str, rows: int) -> None:
        self.done[table] = self.done.get(table, 0) + rows
        self.batches += 1


async def seeded_sqlite(path: Path, roadmap: Roadmap) -> tuple[str, Seeded]:
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    try:
        return url, await seed(db, roadmap)
    finally:
        await db.dispose()


async def snapshot(url: str, roadmap: Roadmap, seeded: Seeded) -> tuple[object, ...]:
    db = Database(url)
    try:
        return (
            await all_rows(db),
            await pages(db, seeded),
            await progress_of(db, roadmap, seeded),
        )
    finally:
        await db.dispose()


async def test_sqlite_to_postgres_and_back_keeps_every_row_and_answer(
    tmp_path: Path, roadmap: Roadmap, empty_pg: Callable[[], str]
) -> None:
    source, seeded = await seeded_sqlite(tmp_path / "laptop.sqlite3", roadmap)
    postgres = empty_pg()
    back = f"sqlite+aiosqlite:///{tmp_path / 'again' / 'back.sqlite3'}"

    recorder = Recorder()
    there = await copy_database(source, postgres, batch_size=7, progress=recorder)
    assert there.ok, there
    assert there.counter_problems == ()
    assert recorder.done == {name: n for name, n in recorder.totals.items() if n}
    assert recorder.batches > len(recorder.done)  # batches of 7: several per big table
    again = await copy_database(postgres, back)
    assert again.ok, again
    assert [t.source for t in again.tables] == [t.source for t in there.tables]

    rows, boards, members = await snapshot(source, roadmap, seeded)
    assert all(rows[name] for name in ("completions", "members", "checkin_answers", "audit_log"))
    assert all(rows[name] for name in ("level_announcements", "away_periods", "period_totals"))
    assert sum(len(p.entries) for p in boards[(NEW_YORK, "week")]) > 0
    for url in (postgres, back):
        copy_rows, copy_boards, copy_members = await snapshot(url, roadmap, seeded)
        for name, expected in rows.items():
            assert copy_rows[name] == expected, name
        assert copy_boards == boards
        assert copy_members == members


async def test_postgres_ids_continue_after_the_copied_ones(
    tmp_path: Path, roadmap: Roadmap, empty_pg: Callable[[], str]
) -> None:
    source, seeded = await seeded_sqlite(tmp_path / "laptop.sqlite3", roadmap)
    postgres = empty_pg()
    assert (await copy_database(source, postgres)).ok
    db = Database(postgres)
    try:
        async with db.read() as s:
            last_cycle = await s.scalar(select(CheckinCycle.id).order_by(CheckinCycle.id.desc()))
            last_audit = await s.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()))
        clock = FakeClock(seeded.now)
        checkins = CheckinService(db, clock)
        await checkins.configure(GUILDS[0], channel_id=1, schedule=WeeklyTime(0, dt.time(9, 0)))
        cycle = await checkins.open_cycle(GUILDS[0])
        assert cycle is not None and cycle.id == (last_cycle or 0) + 1
        user = seeded.members[GUILDS[0]][1]
        await ProgressService(db, roadmap, clock).complete(
            GUILDS[0], user, roadmap.items[-2].id, actor_id=1
        )
        async with db.read() as s:
            newest = await s.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()))
        assert newest == (last_audit or 0) + 1
    finally:
        await db.dispose()


async def test_a_target_with_data_is_refused_and_left_alone(
    tmp_path: Path, roadmap: Roadmap, empty_pg: Callable[[], str]
) -> None:
    source, _ = await seeded_sqlite(tmp_path / "laptop.sqlite3", roadmap)
    postgres = empty_pg()
    first = await copy_database(source, postgres)
    with pytest.raises(TargetNotEmptyError, match="already holds data"):
        await copy_database(source, postgres)
    other = tmp_path / "other.sqlite3"
    assert (await copy_database(source, f"sqlite+aiosqlite:///{other}")).ok
    with pytest.raises(TargetNotEmptyError, match="already holds data"):
        await copy_database(postgres, f"sqlite+aiosqlite:///{other}")
    db = Database(postgres)
    try:
        async with db.read() as s:
            members = await s.scalar(text("SELECT count(*) FROM members"))
    finally:
        await db.dispose()
    assert members == next(t.target for t in first.tables if t.name == "members")


async def test_an_empty_migrated_target_is_accepted(tmp_path: Path, roadmap: Roadmap) -> None:
    source, _ = await seeded_sqlite(tmp_path / "laptop.sqlite3", roadmap)
    target = f"sqlite+aiosqlite:///{tmp_path / 'migrated.sqlite3'}"
    await asyncio.to_thread(upgrade, target)
    assert (await copy_database(source, target)).ok


async def test_a_source_behind_the_migrations_or_missing_is_refused(tmp_path: Path) -> None:
    old = f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}"
    from bot.db.migrate import alembic_config

    def to_0002() -> None:
        from alembic import command

        command.upgrade(alembic_config(old), "0002")

    await asyncio.to_thread(to_0002)
    target = f"sqlite+aiosqlite:///{tmp_path / 'new.sqlite3'}"
    with pytest.raises(CopyError, match="run `milestone-bot db upgrade` on it first"):
        await copy_database(old, target)
    with pytest.raises(CopyError, match="there is no SQLite database at"):
        await copy_database(f"sqlite+aiosqlite:///{tmp_path / 'none.sqlite3'}", target)
    assert not (tmp_path / "none.sqlite3").exists()


async def test_counters_that_disagree_with_the_completions_are_reported(
    tmp_path: Path, roadmap: Roadmap
) -> None:
    source, seeded = await seeded_sqlite(tmp_path / "laptop.sqlite3", roadmap)
    db = Database(source)
    try:
        async with db.write.begin() as s:
            user = seeded.members[GUILDS[1]][0]
            await s.execute(
                update(Member)
                .where(Member.guild_id == GUILDS[1], Member.user_id == user)
                .values(completed_count=Member.completed_count + 1)
            )
    finally:
        await db.dispose()
    report = await copy_database(source, f"sqlite+aiosqlite:///{tmp_path / 'copy.sqlite3'}")
    assert not report.ok
    assert any("completed counts: 1 members" in p for p in report.counter_problems)
    assert any("score buckets" in p for p in report.counter_problems)
    assert any("score days" in p for p in report.counter_problems)
    assert report.source_counter_problems == report.counter_problems
