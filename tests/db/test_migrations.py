"""Migrations: they build exactly the models' schema, carry data forward and run both ways."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from bot.db.migrate import alembic_config, upgrade
from bot.db.models import Base


def test_migrations_build_exactly_the_models(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    upgrade(f"sqlite+aiosqlite:///{path}")
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations disagree (write a migration): {diff}"


def test_downgrade_to_nothing_and_back(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite3'}"
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    upgrade(url)


def test_away_members_keep_their_absence_across_0002(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url, "0001")
    with sqlite3.connect(path) as con:
        con.execute(
            "INSERT INTO members (guild_id, user_id, display_name, hidden, completed_count, "
            "level, away_until, reminders_subscribed, dm_failure_told, created_at) "
            "VALUES (1, 2, 'ada', 0, 0, 0, '2026-12-24', 0, 0, '2026-11-01 10:00:00.000000')"
        )
    upgrade(url)
    with sqlite3.connect(path) as con:
        rows = con.execute("SELECT guild_id, user_id, starts_on, ends_on FROM away_periods")
        found = rows.fetchall()
    assert found == [(1, 2, "2026-11-01", "2026-12-24")]


def test_0003_and_0004_fill_the_leaderboard_counters_from_existing_data(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url, "0002")
    recent = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).replace(tzinfo=None)
    old = "2020-01-01 10:00:00.000000"
    with sqlite3.connect(path) as con:
        for user, hidden, count in ((1, 0, 2), (2, 0, 2), (3, 1, 1), (4, 0, 1)):
            con.execute(
                "INSERT INTO members (guild_id, user_id, display_name, hidden, completed_count,"
                " level, reminders_subscribed, dm_failure_told, created_at)"
                " VALUES (9, ?, '', ?, ?, 0, 0, 0, ?)",
                (user, hidden, count, old),
            )
        for user, item, when in (
            (1, "a", old),
            (1, "b", recent),
            (2, "a", old),
            (2, "b", old),
            (3, "a", recent),
            (4, "a", recent),
        ):
            con.execute(
                "INSERT INTO completions (guild_id, user_id, item_id, completed_at)"
                " VALUES (9, ?, ?, ?)",
                (user, item, str(when)),
            )
    upgrade(url)
    with sqlite3.connect(path) as con:
        buckets = con.execute("SELECT n, members FROM score_buckets ORDER BY n").fetchall()
        weekly = con.execute(
            "SELECT user_id, n, hidden FROM period_scores WHERE period = 'week' ORDER BY user_id"
        ).fetchall()
        week_total = con.execute(
            "SELECT members FROM period_totals WHERE period = 'week'"
        ).fetchall()
    assert buckets == [(1, 1), (2, 2)]  # the hidden member is not counted
    assert weekly == [(1, 1, 0), (3, 1, 1), (4, 1, 0)]
    assert week_total == [(2,)]  # 0004 counts the shown ones
