"""Migrations: they build exactly the models' schema, carry data forward and run both ways.

On this run's backend (`empty_db_url`: a SQLite file, or a PostgreSQL database with
TEST_BACKEND=postgres): the data migrations hold dialect-specific SQL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from bot.db.copy import head_revision
from bot.db.migrate import HEAD, alembic_config, stored_revision, upgrade
from bot.db.models import Base, TZDateTime

# The tables as the old revisions had them (only the columns the tests write or read).


def members_table(*extra: sa.ColumnClause[Any]) -> sa.TableClause:
    return sa.table(
        "members",
        sa.column("guild_id", sa.BigInteger),
        sa.column("user_id", sa.BigInteger),
        sa.column("display_name", sa.String),
        sa.column("hidden", sa.Boolean),
        sa.column("completed_count", sa.Integer),
        sa.column("level", sa.Integer),
        sa.column("reminders_subscribed", sa.Boolean),
        sa.column("dm_failure_told", sa.Boolean),
        sa.column("created_at", TZDateTime),
        *extra,
    )


COMPLETIONS = sa.table(
    "completions",
    sa.column("guild_id", sa.BigInteger),
    sa.column("user_id", sa.BigInteger),
    sa.column("item_id", sa.String),
    sa.column("completed_at", TZDateTime),
)
AWAY_PERIODS = sa.table(
    "away_periods",
    sa.column("guild_id", sa.BigInteger),
    sa.column("user_id", sa.BigInteger),
    sa.column("starts_on", sa.Date),
    sa.column("ends_on", sa.Date),
)
UTC = dt.UTC
OLD = dt.datetime(2020, 1, 1, 10, 0, tzinfo=UTC)


def run(url: str, *statements: Any) -> list[list[tuple[Any, ...]]]:
    """Execute statements in one transaction; the rows of each that returns rows."""

    async def go() -> list[list[tuple[Any, ...]]]:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                results = [await conn.execute(s) for s in statements]
                return [[tuple(r) for r in res] for res in results if res.returns_rows]
        finally:
            await engine.dispose()

    return asyncio.run(go())


def member(user: int, *, hidden: bool = False, count: int = 0, **more: Any) -> dict[str, Any]:
    return {
        "guild_id": 9,
        "user_id": user,
        "display_name": "",
        "hidden": hidden,
        "completed_count": count,
        "level": 0,
        "reminders_subscribed": False,
        "dm_failure_told": False,
        "created_at": OLD,
        **more,
    }


def test_migrations_build_exactly_the_models(empty_db_url: str) -> None:
    upgrade(empty_db_url)

    async def diff() -> list[Any]:
        engine = create_async_engine(empty_db_url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
                )
        finally:
            await engine.dispose()

    found = asyncio.run(diff())
    assert found == [], f"models and migrations disagree (write a migration): {found}"


def test_downgrade_to_nothing_and_back(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    command.downgrade(alembic_config(empty_db_url), "base")
    upgrade(empty_db_url)


def test_head_names_the_newest_migration() -> None:
    # A new migration must move HEAD too, or a bot at the old head would skip it at start.
    assert head_revision() == HEAD


AT_HEAD_SCRIPT = """
import sys
from bot.db.migrate import upgrade
upgrade(sys.argv[1])
print("alembic" in sys.modules)
"""


def test_a_database_at_head_starts_without_alembic(empty_db_url: str) -> None:
    # Each start of the bot migrates; at head that must not load Alembic (about 8 MiB kept
    # for the life of the process). Behind head it migrates, as before.
    def start() -> str:
        done = subprocess.run(
            [sys.executable, "-c", AT_HEAD_SCRIPT, empty_db_url],
            cwd=Path(__file__).resolve().parents[2],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return done.stdout.strip()

    assert start() == "True"  # a new database: migrated
    assert start() == "False"  # at head: nothing to do, nothing loaded
    command.downgrade(alembic_config(empty_db_url), "0008")
    assert start() == "True"
    assert asyncio.run(stored_revision(empty_db_url)) == HEAD


def test_away_members_keep_their_absence_across_0002(empty_db_url: str) -> None:
    upgrade(empty_db_url, "0001")
    created = dt.datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    away = members_table(sa.column("away_until", sa.Date))  # dropped by 0002
    run(
        empty_db_url,
        sa.insert(away).values(
            member(2, guild_id=1, created_at=created, away_until=dt.date(2026, 12, 24))
        ),
    )
    upgrade(empty_db_url)
    columns = AWAY_PERIODS.c
    [found] = run(
        empty_db_url,
        sa.select(columns.guild_id, columns.user_id, columns.starts_on, columns.ends_on),
    )
    assert found == [(1, 2, dt.date(2026, 11, 1), dt.date(2026, 12, 24))]


def test_0003_and_0004_fill_the_leaderboard_counters_from_existing_data(
    empty_db_url: str,
) -> None:
    upgrade(empty_db_url, "0002")
    recent = dt.datetime.now(UTC) - dt.timedelta(seconds=1)
    members = [
        member(user, hidden=hidden, count=count)
        for user, hidden, count in ((1, False, 2), (2, False, 2), (3, True, 1), (4, False, 1))
    ]
    completions = [
        {"guild_id": 9, "user_id": user, "item_id": item, "completed_at": when}
        for user, item, when in (
            (1, "a", OLD),
            (1, "b", recent),
            (2, "a", OLD),
            (2, "b", OLD),
            (3, "a", recent),
            (4, "a", recent),
        )
    ]
    run(
        empty_db_url,
        sa.insert(members_table()).values(members),
        sa.insert(COMPLETIONS).values(completions),
    )
    upgrade(empty_db_url)
    buckets, weekly, week_total = run(
        empty_db_url,
        sa.text("SELECT n, members FROM score_buckets ORDER BY n"),
        sa.text(
            "SELECT user_id, n, hidden FROM period_scores WHERE period = 'week' ORDER BY user_id"
        ),
        sa.text("SELECT members FROM period_totals WHERE period = 'week'"),
    )
    assert buckets == [(1, 1), (2, 2)]  # the hidden member is not counted
    assert [(user, n, bool(hidden)) for user, n, hidden in weekly] == [
        (1, 1, False),
        (3, 1, True),
        (4, 1, False),
    ]
    assert week_total == [(2,)]  # 0004 counts the shown ones


def test_0005_gives_ticked_checklist_items_their_projects_and_fills_the_insight_counters(
    tmp_path: Path, sqlite_only: None
) -> None:
    path = tmp_path / "m.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url, "0004")
    recent = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).replace(tzinfo=None)
    old = "2020-01-01 10:00:00.000000"
    with sqlite3.connect(path) as con:
        # 1: ticked the level 1 item naming projects 1-2 (and one of them somehow); level 1.
        # 2: hidden, two plain items; 3: nothing at all, joined long ago.
        for user, hidden, count, level, started in (
            (1, 0, 3, 1, "2019-10-01"),
            (2, 1, 2, 0, None),
            (3, 0, 0, 0, None),
        ):
            con.execute(
                "INSERT INTO members (guild_id, user_id, display_name, started_on, hidden,"
                " completed_count, last_completed_at, level, reminders_subscribed,"
                " dm_failure_told, created_at) VALUES (9, ?, '', ?, ?, ?, ?, ?, 0, 0, ?)",
                (user, started, hidden, count, str(recent), level, old),
            )
        con.execute("UPDATE members SET last_completed_at = NULL WHERE completed_count = 0")
        for user, item, when in (
            (1, "l1.check.foundation-1-2", recent),
            (1, "l1.project.foundation-1", recent),
            (1, "l1.check.python-training", old),
            (2, "l1.check.python-training", recent),
            (2, "l1.check.first-pipeline", recent),
        ):
            con.execute(
                "INSERT INTO completions (guild_id, user_id, item_id, completed_at)"
                " VALUES (9, ?, ?, ?)",
                (user, item, str(when)),
            )
        con.execute(
            "INSERT INTO level_announcements (guild_id, user_id, level, reached_at)"
            " VALUES (9, 1, 1, '2020-03-15 10:00:00.000000')"
        )
        con.execute(
            "INSERT INTO checkin_cycles (id, guild_id, channel_id, opens_at, closes_at)"
            " VALUES (5, 9, 1, '2020-01-06 18:00:00.000000', '2020-01-08 18:00:00.000000')"
        )
        con.execute(
            "INSERT INTO checkin_answers (cycle_id, user_id, guild_id, learned, built,"
            " milestones, feedback, hours, submitted_at, updated_at)"
            " VALUES (5, 3, 9, 'x', '', '', '', 1, '2020-01-07 10:00:00.000000',"
            " '2020-01-07 10:00:00.000000')"
        )
    upgrade(url)
    with sqlite3.connect(path) as con:

        def rows(sql: str) -> list[tuple[object, ...]]:
            return con.execute(sql).fetchall()

        assert rows(
            "SELECT item_id FROM completions WHERE user_id = 1 AND item_id LIKE '%project%'"
            " ORDER BY item_id"
        ) == [("l1.project.foundation-1",), ("l1.project.foundation-2",)]
        assert rows("SELECT user_id, completed_count FROM members ORDER BY user_id") == [
            (1, 4),
            (2, 2),
            (3, 0),
        ]
        assert rows("SELECT n, members FROM score_buckets ORDER BY n") == [(4, 1)]
        assert rows("SELECT n FROM period_scores WHERE period = 'week' AND user_id = 1") == [(3,)]
        assert rows("SELECT level, members FROM level_counts") == [(1, 1)]
        assert dict(rows("SELECT item_id, members FROM item_counts")) == {
            "l1.check.foundation-1-2": 1,
            "l1.project.foundation-1": 1,
            "l1.project.foundation-2": 1,
            "l1.check.python-training": 2,
            "l1.check.first-pipeline": 1,
        }
        assert rows("SELECT answer_count FROM checkin_cycles") == [(1,)]
        today = recent.date().isoformat()
        assert rows("SELECT user_id, last_active_on FROM members ORDER BY user_id") == [
            (1, today),
            (2, today),
            (3, "2020-01-07"),
        ]
        assert rows("SELECT day, members, hidden FROM activity_days ORDER BY day") == [
            ("2020-01-07", 1, 0),
            (today, 1, 1),
        ]
        # Level 1 reached on 2020-03-15, five whole months after starting on 2019-10-01.
        assert rows("SELECT level, months, members FROM level_times") == [(1, 5, 1)]
        assert rows("SELECT assess_every_weeks FROM guild_settings") == []

    command.downgrade(alembic_config(url), "0004")
    with sqlite3.connect(path) as con:
        assert con.execute(
            "SELECT COUNT(*) FROM completions WHERE item_id LIKE '%project%'"
        ).fetchone() == (0,)
        assert con.execute(
            "SELECT user_id, completed_count FROM members ORDER BY user_id"
        ).fetchall() == [(1, 2), (2, 2), (3, 0)]
        assert con.execute("SELECT n, members FROM score_buckets").fetchall() == [(2, 1)]


def test_0010_counts_the_shown_members_per_count_and_utc_day(empty_db_url: str) -> None:
    upgrade(empty_db_url, "0009")
    late = dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))  # 04:30Z
    at = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    members = [
        member(user, hidden=hidden, count=count, last_completed_at=last)
        for user, hidden, count, last in (
            (1, False, 3, at),
            (2, False, 3, late),  # the same UTC day as 1, though the 1st where it was done
            (3, False, 3, OLD),
            (4, True, 3, at),  # hidden: not counted
            (5, False, 1, at),
            (6, False, 0, None),  # nothing done
        )
    ]
    last_completed = sa.column("last_completed_at", TZDateTime)
    run(empty_db_url, sa.insert(members_table(last_completed)).values(members))
    upgrade(empty_db_url)
    (days,) = run(empty_db_url, sa.text("SELECT n, day, members FROM score_days ORDER BY n, day"))
    assert [(n, str(day), m) for n, day, m in days] == [
        (1, "2026-03-02", 1),
        (3, "2020-01-01", 1),
        (3, "2026-03-02", 2),
    ]


def _columns_of(create_index: str) -> str:
    """The column list of a CREATE INDEX statement, with each column's order (DESC)."""
    start = create_index.index("(", create_index.upper().index(" ON "))
    depth, end = 0, start
    while True:
        depth += {"(": 1, ")": -1}.get(create_index[end], 0)
        if depth == 0:
            break
        end += 1
    return " ".join(create_index[start + 1 : end].replace('"', "").split()).lower()


def test_every_index_keeps_its_columns_and_their_order(empty_db_url: str) -> None:
    """Alembic's comparison ignores a column's DESC: a ranking index that lost it (SQLite's
    copy of a table in 0007 did) makes every leaderboard page sort instead of walk."""
    upgrade(empty_db_url)
    dialect = sa.engine.make_url(empty_db_url).get_backend_name()
    query = (
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        if dialect == "sqlite"
        else "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
    )
    (rows,) = run(empty_db_url, sa.text(query))
    found = {name: _columns_of(sql) for name, sql in rows}
    engine_dialect = sa.create_mock_engine(f"{dialect}://", lambda *a, **k: None).dialect
    for table in Base.metadata.tables.values():
        for index in table.indexes:
            made = str(sa.schema.CreateIndex(index).compile(dialect=engine_dialect))
            assert found.get(str(index.name)) == _columns_of(made), index.name


def test_0011_keeps_every_completion_both_ways(empty_db_url: str) -> None:
    upgrade(empty_db_url, "0010")
    at = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    done = [
        {"guild_id": 9, "user_id": user, "item_id": f"l1.m{k}", "completed_at": at}
        for user in (3, 1, 2)
        for k in range(3)
    ]
    run(empty_db_url, sa.insert(COMPLETIONS).values(done))
    everything = sa.text(
        "SELECT guild_id, user_id, item_id, completed_at FROM completions ORDER BY user_id, item_id"
    )
    (before,) = run(empty_db_url, everything)
    assert len(before) == 9
    upgrade(empty_db_url)
    assert run(empty_db_url, everything) == [before]
    command.downgrade(alembic_config(empty_db_url), "0010")
    assert run(empty_db_url, everything) == [before]


def _plan(path: str, statement: Any) -> str:
    """SQLite's plan of a Core statement (its parameters all 1), as a new connection makes
    it: with the statistics in the file, whatever they are."""
    compiled = statement.compile(dialect=sa.dialects.sqlite.dialect())
    values = [1] * len(compiled.positiontup or ())
    with sqlite3.connect(path) as con:
        rows = con.execute(f"EXPLAIN QUERY PLAN {compiled}", values).fetchall()
    return " / ".join(row[-1] for row in rows)


def test_a_members_completions_are_read_through_their_key_without_analyze(
    empty_db_url: str,
) -> None:
    """The bot never runs ANALYZE. Without statistics SQLite read a member's latest
    completions by walking the server's time index (13 s at 5,000,000 completions)."""
    from bot.services import progress

    if not empty_db_url.startswith("sqlite"):
        pytest.skip("SQLite's planner: PostgreSQL keeps its own statistics (autovacuum)")
    path = empty_db_url.split("///", 1)[1]
    upgrade(empty_db_url)
    for statement in (progress._RECENT, progress._MOMENTS, progress._DONE_IDS, progress.MEMBER_ROW):
        plan = _plan(path, statement)
        assert "ix_completions_guild_time" not in plan, plan
        assert "PRIMARY KEY (guild_id=? AND user_id=?)" in plan, plan
    # A server's period walks the time index, also joined to its members (the period
    # counters' rebuild), rather than every member's completions.
    period = (
        COMPLETIONS.c.guild_id == 1,
        COMPLETIONS.c.completed_at >= sa.bindparam("start"),
        COMPLETIONS.c.completed_at < sa.bindparam("end"),
    )
    weekly = sa.select(sa.func.count()).select_from(COMPLETIONS).where(*period)
    assert "ix_completions_guild_time" in _plan(path, weekly)
    members = members_table()
    per_member = (
        sa.select(
            COMPLETIONS.c.user_id,
            sa.func.count(),
            sa.func.max(COMPLETIONS.c.completed_at),
            members.c.hidden,
        )
        .select_from(
            COMPLETIONS.join(
                members,
                sa.and_(
                    members.c.guild_id == COMPLETIONS.c.guild_id,
                    members.c.user_id == COMPLETIONS.c.user_id,
                ),
            )
        )
        .where(*period)
        .group_by(COMPLETIONS.c.user_id, members.c.hidden)
    )
    first = _plan(path, per_member).split(" / ")[0]
    assert "completions USING COVERING INDEX ix_completions_guild_time" in first, first
