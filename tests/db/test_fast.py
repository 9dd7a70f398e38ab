"""The hot units of work, straight on sqlite3 or asyncpg, give what SQLAlchemy would give."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.db import Database
from bot.db.models import AuditEntry, Completion, Member
from bot.roadmap import Roadmap
from bot.services import checkins, guilds, leaderboard, members, prepared, progress
from bot.services.members import MemberService
from bot.services.progress import ProgressService, touch_member
from bot.services.scores import period_start
from tests.support.fakes import FakeClock
from tests.support.pg import PostgresCluster

GUILD = 5


@pytest.fixture
async def busy(db: Database, roadmap: Roadmap, clock: FakeClock) -> Database:
    """A server where 20 members completed, undid and hid things."""
    service = ProgressService(db, roadmap, clock)
    members = MemberService(db, clock)
    async with db.write.begin() as s:
        await guilds.save_settings(s, GUILD, {"timezone": "Europe/Berlin"}, clock.now())
    rng = random.Random(5)
    items = [i.id for i in roadmap.items]
    for step in range(300):
        clock.advance(dt.timedelta(minutes=rng.choice((1, 30, 600))))
        user = rng.randrange(1, 21)
        if step % 7 == 6:
            done = sorted(await service.done_ids(GUILD, user))
            if done:
                await service.undo(GUILD, user, rng.choice(done), display_name=f"m{user}")
        else:
            await service.complete(
                GUILD, user, rng.choice(items), display_name=f"m{user}", evidence="e" * step
            )
    await members.update_profile(GUILD, 3, hidden=True, started_on=dt.date(2024, 1, 2))
    return db


def read_statements(now: dt.datetime) -> list[tuple[Any, dict[str, Any]]]:
    """Every prepared read of the hot paths, with parameters that find rows."""
    berlin = period_start("week", now, guilds.ZoneInfo("Europe/Berlin"))
    out: list[tuple[Any, dict[str, Any]]] = []
    for user in (1, 3, 7, 99):
        key = {"guild": GUILD, "user": user}
        out += [
            (progress.MEMBER_ROW, key),
            (progress._DONE_IDS, key),
            (progress._RECENT, {**key, "limit": 5}),
            (members._LOOKS, key),
            (leaderboard._RANKED, key),
            (checkins._AWAY, key),
            (checkins._STREAK_CYCLES, {**key, "offset": 0}),
            (
                leaderboard._RANK,
                {**key, "count": 3, "last_at": now, "day": now.date(), "day_start": now},
            ),
        ]
    period = {"guild": GUILD, "period": "week", "starts_on": berlin}
    out += [
        (leaderboard._BUCKETS_BELOW, {"guild": GUILD, "below": 2**31 - 1, "limit": 4}),
        (leaderboard._BUCKETS_BELOW, {"guild": GUILD, "below": 3, "limit": 2**31 - 1}),
        (leaderboard._ALL_TIME_ROWS, {"guild": GUILD, "top": 200, "offset": 0}),
        (leaderboard._TOP_ROWS, {"guild": GUILD, "offset": 0}),
        (leaderboard._PERIOD_ROWS, {**period, "offset": 0}),
        (leaderboard._PERIOD_TOTAL, period),
        (guilds._BASICS, {"guild": GUILD}),
        (guilds._LEVEL_ROLES, {"guild": GUILD}),
        (guilds._ANNOUNCE, {"guild": GUILD}),
    ]
    return out


async def test_every_hot_read_gives_what_sqlalchemy_gives(busy: Database, clock: FakeClock) -> None:
    statements = read_statements(clock.now())

    def fast(runner: Any) -> list[list[tuple[Any, ...]]]:
        return [[tuple(row) for row in runner.execute(st, p).all()] for st, p in statements]

    got = await busy.run_fast_read(fast)
    async with busy.engine.connect() as conn:
        want = [[tuple(row) for row in (await conn.execute(st, p)).all()] for st, p in statements]
    assert got == want
    # Values and their types: aware datetimes, dates, booleans, as SQLAlchemy returns them.
    assert [[[type(v) for v in row] for row in rows] for rows in got] == [
        [[type(v) for v in row] for row in rows] for rows in want
    ]
    assert any(rows for rows in got[:-3])  # the scene has rows to compare


async def test_result_methods_behave_like_sqlalchemys(busy: Database) -> None:
    def run(s: Any) -> dict[str, Any]:
        key = {"guild": GUILD, "user": 1}
        missing = {"guild": GUILD, "user": 12345}
        return {
            "one": s.execute(progress.MEMBER_ROW, key).one().display_name,
            "none": s.execute(progress.MEMBER_ROW, missing).one_or_none(),
            "scalar": s.execute(members._LOOKS, key).scalar_one_or_none(),
            "scalars": sorted(s.execute(progress._DONE_IDS, key).scalars().all()),
            "first": s.execute(progress._RECENT, {**key, "limit": 2}).first()[0],
        }

    fast = await busy.run_fast_read(run)
    async with busy.read() as s:
        slow = await s.run_sync(run)
    assert fast == slow


async def test_a_fast_write_fills_column_defaults_like_an_orm_insert(
    db: Database, clock: FakeClock
) -> None:
    now = clock.now()
    await db.run_fast_write(touch_member, GUILD, 1, "fast", now)
    async with db.write.begin() as s:
        await s.run_sync(touch_member, GUILD, 2, "slow", now)
        s.add(
            Member(
                guild_id=GUILD,
                user_id=3,
                display_name="orm",
                created_at=now,
                last_active_on=now.date(),  # what touch_member counts as the first activity
            )
        )
    async with db.read() as s:
        rows = {
            m.user_id: {c.key: getattr(m, c.key) for c in Member.__table__.columns}
            for m in await s.scalars(select(Member).where(Member.guild_id == GUILD))
        }
    for user in (1, 2):
        rows[user].pop("display_name"), rows[user].pop("user_id")
    rows[3].pop("display_name"), rows[3].pop("user_id")
    assert rows[1] == rows[2] == rows[3]


async def test_a_failing_fast_write_leaves_nothing_and_raises_sqlalchemys_error(
    db: Database, clock: FakeClock
) -> None:
    now = clock.now()

    def twice(s: Any) -> None:
        s.execute(
            prepared.insert_audit(s),
            {"guild": GUILD, "actor": 1, "member": 2, "item": "x", "action": "grant", "at": now},
        )
        touch_member(s, GUILD, 1, "first", now)
        # The same member again (and without the columns that must be set): refused.
        s.execute(
            text("INSERT INTO members (guild_id, user_id) VALUES (:g, :u)"), {"g": GUILD, "u": 1}
        )

    with pytest.raises(IntegrityError):
        await db.run_fast_write(twice)
    async with db.read() as s:
        assert await s.scalar(select(AuditEntry.id)) is None
        assert await s.scalar(select(Member.user_id)) is None
    # The thread's connection is usable again afterwards.
    await db.run_fast_write(touch_member, GUILD, 1, "again", now)
    names = await db.run_fast_read(
        lambda s: s.execute(members._LOOKS, {"guild": GUILD, "user": 1}).scalar()
    )
    assert names == "again"


async def test_reads_see_every_committed_write(
    db: Database, roadmap: Roadmap, clock: FakeClock
) -> None:
    service = ProgressService(db, roadmap, clock)
    item = roadmap.items[0].id
    for user in range(1, 30):
        await service.complete(GUILD, user, item)
        assert item in await service.done_ids(GUILD, user)  # any reader thread sees it
    async with db.read() as s:
        assert await s.scalar(select(Completion.user_id).order_by(Completion.user_id)) == 1


async def test_a_read_sqlite_turns_away_on_the_loop_goes_to_a_reader_thread(
    db: Database, clock: FakeClock, sqlite_only: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hot reads run on the event loop's own connection and never wait there: when SQLite
    answers busy, the same read runs on a reader thread (which may wait); other errors
    are raised as they are."""
    import threading

    await db.run_fast_write(touch_member, GUILD, 1, "ann", clock.now())
    threads: list[str] = []

    def name(s: Any) -> str:
        threads.append(threading.current_thread().name)
        return str(s.execute(members._LOOKS, {"guild": GUILD, "user": 1}).scalar())

    assert await db.run_fast_read(name) == "ann"
    assert threads == [threading.current_thread().name]  # no hop

    def busy(work: Any, *args: Any) -> Any:
        raise OperationalError("SELECT", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(db, "_on_loop", busy)
    assert await db.run_fast_read(name) == "ann"
    assert threads[-1].startswith("db-worker")

    def broken(work: Any, *args: Any) -> Any:
        raise OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x"))

    monkeypatch.setattr(db, "_on_loop", broken)
    with pytest.raises(OperationalError):
        await db.run_fast_read(name)


async def test_a_fast_write_waits_for_another_writer_on_a_thread_not_on_the_loop(
    db: Database, db_url: str, clock: FakeClock, sqlite_only: None
) -> None:
    """A write tries the loop's connection first and never waits there: while another
    process holds the write lock, it waits on the writer thread, the loop goes on serving,
    and the write is committed once the lock is free."""
    import asyncio

    from sqlalchemy.engine import make_url

    await db.run_fast_write(touch_member, GUILD, 1, "ann", clock.now())  # opens the connection
    holder = sqlite3.connect(str(make_url(db_url).database), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        write = asyncio.create_task(db.run_fast_write(touch_member, GUILD, 2, "bob", clock.now()))
        ticks = 0
        for _ in range(20):  # the loop keeps running while the write waits
            await asyncio.sleep(0.01)
            ticks += 1
        assert not write.done() and ticks == 20
        looks = await db.run_fast_read(
            lambda s: s.execute(members._LOOKS, {"guild": GUILD, "user": 1}).one()
        )
        assert looks.display_name == "ann"  # reads go on too
    finally:
        holder.execute("COMMIT")
        holder.close()
    await asyncio.wait_for(write, 10)
    async with db.read() as s:
        assert await s.scalar(select(Member.display_name).where(Member.user_id == 2)) == "bob"


async def test_fast_units_on_postgresql_outlive_a_server_that_dropped_their_connections(
    db: Database, clock: FakeClock, roadmap: Roadmap, postgres_only: PostgresCluster
) -> None:
    # The fast units' pool does not ping before each checkout: a connection the server
    # dropped (a restart, a failover, an idle timeout) is found out and replaced instead.
    service = ProgressService(db, roadmap, clock)
    item = roadmap.items[0].id
    await service.complete(GUILD, 1, item, display_name="m1")
    assert await service.done_ids(GUILD, 1) == {item}
    await drop_other_connections(db)
    assert await service.done_ids(GUILD, 1) == {item}  # a read: on a new connection
    await drop_other_connections(db)
    await service.complete(GUILD, 1, roadmap.items[1].id, display_name="m1")  # a write
    assert await service.done_ids(GUILD, 1) == {item, roadmap.items[1].id}


async def drop_other_connections(db: Database) -> None:
    """The server ends every connection to the database but the one asking."""
    async with db.engine.connect() as conn:
        await conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
