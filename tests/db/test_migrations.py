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


def test_0005_gives_ticked_checklist_items_their_projects_and_fills_the_insight_counters(
    tmp_path: Path,
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
