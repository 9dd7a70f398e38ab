"""Migrations: they build exactly the models' schema, carry data forward and run both ways.

On this run's backend (`empty_db_url`: a SQLite file, or a PostgreSQL database with
TEST_BACKEND=postgres): the data migrations hold dialect-specific SQL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from bot.db.migrate import alembic_config, upgrade
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
