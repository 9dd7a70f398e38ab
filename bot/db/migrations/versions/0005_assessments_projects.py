"""self-assessments, projects as items, and the counters behind /config insights

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

"""

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

from bot.db.models import TZDateTime
from bot.services.scores import PERIODS, period_bounds, period_start

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The projects each checklist item names, as data/projects.yaml had them at this revision:
# a member who ticked the item before projects could be ticked gets its projects, at the
# same time, so the item and its projects agree from the start.
PROJECTS_OF = {
    "l1.check.foundation-1-2": ("l1.project.foundation-1", "l1.project.foundation-2"),
    "l2.check.projects-3-5": (
        "l2.project.foundation-3",
        "l2.project.cloud-big-data-4",
        "l2.project.cloud-big-data-5",
    ),
    "l3.check.projects-6-9": (
        "l3.project.cloud-big-data-6",
        "l3.project.advanced-de-7",
        "l3.project.advanced-de-8",
        "l3.project.advanced-de-9",
    ),
    "l4.check.projects-10-12": (
        "l4.project.specialization-10",
        "l4.project.specialization-11",
        "l4.project.specialization-12",
    ),
    "l5.check.projects-13-15": (
        "l5.project.cutting-edge-13",
        "l5.project.cutting-edge-14",
        "l5.project.cutting-edge-15",
    ),
}
PROJECT_IDS = tuple(p for projects in PROJECTS_OF.values() for p in projects)

completions = sa.table(
    "completions",
    sa.column("guild_id", sa.BigInteger),
    sa.column("user_id", sa.BigInteger),
    sa.column("item_id", sa.String),
    sa.column("completed_at", TZDateTime),
)
members = sa.table(
    "members",
    sa.column("guild_id", sa.BigInteger),
    sa.column("user_id", sa.BigInteger),
    sa.column("hidden", sa.Boolean),
    sa.column("level", sa.Integer),
    sa.column("started_on", sa.Date),
    sa.column("created_at", TZDateTime),
    sa.column("last_completed_at", TZDateTime),
    sa.column("last_active_on", sa.Date),
)
answers = sa.table(
    "checkin_answers",
    sa.column("guild_id", sa.BigInteger),
    sa.column("user_id", sa.BigInteger),
    sa.column("updated_at", TZDateTime),
)
announcements = sa.table(
    "level_announcements",
    sa.column("guild_id", sa.BigInteger),
    sa.column("user_id", sa.BigInteger),
    sa.column("level", sa.Integer),
    sa.column("reached_at", TZDateTime),
)
settings = sa.table(
    "guild_settings", sa.column("guild_id", sa.BigInteger), sa.column("timezone", sa.String)
)
period_scores = sa.table(
    "period_scores",
    sa.column("guild_id", sa.BigInteger),
    sa.column("period", sa.String),
    sa.column("starts_on", sa.Date),
    sa.column("user_id", sa.BigInteger),
    sa.column("n", sa.Integer),
    sa.column("last_at", TZDateTime),
    sa.column("hidden", sa.Boolean),
)


def upgrade() -> None:
    """Add the new tables and columns, give ticked checklist items their projects, count."""
    with op.batch_alter_table("guild_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("assess_every_weeks", sa.Integer(), nullable=False, server_default="4")
        )
    with op.batch_alter_table("checkin_cycles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("answer_count", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_active_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("last_assessed_on", sa.Date(), nullable=True))
        batch_op.create_index(
            "ix_members_activity",
            ["guild_id", "hidden", "last_active_on", "user_id"],
            unique=False,
        )
    op.create_table(
        "assessments",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("taken_on", sa.Date(), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "user_id", "taken_on", name=op.f("pk_assessments")),
    )
    op.create_table(
        "assessment_ratings",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("taken_on", sa.Date(), nullable=False),
        sa.Column("metric_id", sa.String(length=64), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "guild_id", "user_id", "taken_on", "metric_id", name=op.f("pk_assessment_ratings")
        ),
    )
    op.create_table(
        "level_counts",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "level", name=op.f("pk_level_counts")),
    )
    op.create_table(
        "item_counts",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "item_id", name=op.f("pk_item_counts")),
    )
    op.create_table(
        "activity_days",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("hidden", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "day", name=op.f("pk_activity_days")),
    )
    op.create_table(
        "level_times",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("months", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "level", "months", name=op.f("pk_level_times")),
    )
    op.create_table(
        "metric_totals",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("metric_id", sa.String(length=64), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("rating_sum", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "metric_id", name=op.f("pk_metric_totals")),
    )

    added = 0
    for checklist_id, project_ids in PROJECTS_OF.items():
        for project_id in project_ids:
            added += _rowcount(
                op.get_bind().execute(
                    sa.text(
                        "INSERT INTO completions (guild_id, user_id, item_id, completed_at) "
                        "SELECT c.guild_id, c.user_id, CAST(:project AS VARCHAR(64)), "
                        "c.completed_at "
                        "FROM completions c WHERE c.item_id = :checklist AND NOT EXISTS ("
                        "SELECT 1 FROM completions d WHERE d.guild_id = c.guild_id "
                        "AND d.user_id = c.user_id AND d.item_id = :project)"
                    ),
                    {"project": project_id, "checklist": checklist_id},
                )
            )
    if added:
        _recount_completions(dt.datetime.now(dt.UTC))

    op.execute(
        "INSERT INTO level_counts (guild_id, level, members) "
        "SELECT guild_id, level, COUNT(*) FROM members WHERE level > 0 GROUP BY guild_id, level"
    )
    op.execute(
        "INSERT INTO item_counts (guild_id, item_id, members) "
        "SELECT guild_id, item_id, COUNT(*) FROM completions GROUP BY guild_id, item_id"
    )
    op.execute(
        "UPDATE checkin_cycles SET answer_count = (SELECT COUNT(*) FROM checkin_answers a "
        "WHERE a.cycle_id = checkin_cycles.id)"
    )
    _fill_activity_and_level_times()


def _rowcount(result: sa.CursorResult[object]) -> int:
    return max(int(result.rowcount or 0), 0)


def _fill_activity_and_level_times() -> None:
    """Each member's last active day, members per such day, and the months to each level."""
    conn = op.get_bind()
    answered = {
        (g, u): last
        for g, u, last in conn.execute(
            sa.select(
                answers.c.guild_id, answers.c.user_id, sa.func.max(answers.c.updated_at)
            ).group_by(answers.c.guild_id, answers.c.user_id)
        )
    }
    rows = conn.execute(
        sa.select(
            members.c.guild_id,
            members.c.user_id,
            members.c.hidden,
            members.c.created_at,
            members.c.last_completed_at,
            members.c.started_on,
        )
    ).all()
    days: Counter[tuple[int, dt.date, bool]] = Counter()
    starts: dict[tuple[int, int], dt.date] = {}
    updates = []
    for guild_id, user_id, hidden, created_at, last_completed_at, started_on in rows:
        moments = [
            m for m in (created_at, last_completed_at, answered.get((guild_id, user_id))) if m
        ]
        day = max(moments).astimezone(dt.UTC).date()
        updates.append({"g": guild_id, "u": user_id, "day": day})
        days[(guild_id, day, bool(hidden))] += 1
        starts[(guild_id, user_id)] = started_on or created_at.astimezone(dt.UTC).date()
    if updates:
        conn.execute(
            sa.update(members)
            .where(members.c.guild_id == sa.bindparam("g"), members.c.user_id == sa.bindparam("u"))
            .values(last_active_on=sa.bindparam("day")),
            updates,
        )
    per_day: dict[tuple[int, dt.date], list[int]] = {}
    for (guild_id, day, hidden), n in days.items():
        per_day.setdefault((guild_id, day), [0, 0])[1 if hidden else 0] += n
    if per_day:
        conn.execute(
            sa.table(
                "activity_days",
                sa.column("guild_id"),
                sa.column("day"),
                sa.column("members"),
                sa.column("hidden"),
            ).insert(),
            [
                {"guild_id": g, "day": day, "members": shown, "hidden": hidden}
                for (g, day), (shown, hidden) in per_day.items()
            ],
        )
    times: Counter[tuple[int, int, int]] = Counter()
    for guild_id, user_id, level, reached_at in conn.execute(
        sa.select(
            announcements.c.guild_id,
            announcements.c.user_id,
            announcements.c.level,
            announcements.c.reached_at,
        )
    ):
        start = starts.get((guild_id, user_id))
        if start is not None:
            times[(guild_id, level, _months(start, reached_at.astimezone(dt.UTC).date()))] += 1
    if times:
        conn.execute(
            sa.table(
                "level_times",
                sa.column("guild_id"),
                sa.column("level"),
                sa.column("months"),
                sa.column("members"),
            ).insert(),
            [
                {"guild_id": g, "level": level, "months": months, "members": n}
                for (g, level, months), n in times.items()
            ],
        )


def _months(start: dt.date, day: dt.date) -> int:
    months = (day.year - start.year) * 12 + day.month - start.month
    if day.day < start.day:
        months -= 1
    return max(months, 0)


def _recount_completions(now: dt.datetime) -> None:
    """After adding or removing completions: members' counts, the buckets, this week/month."""
    op.execute(
        "UPDATE members SET completed_count = (SELECT COUNT(*) FROM completions c "
        "WHERE c.guild_id = members.guild_id AND c.user_id = members.user_id), "
        "last_completed_at = (SELECT MAX(c.completed_at) FROM completions c "
        "WHERE c.guild_id = members.guild_id AND c.user_id = members.user_id)"
    )
    op.execute("DELETE FROM score_buckets")
    op.execute(
        "INSERT INTO score_buckets (guild_id, n, members) "
        "SELECT guild_id, completed_count, COUNT(*) FROM members "
        "WHERE hidden = false AND completed_count > 0 GROUP BY guild_id, completed_count"
    )
    op.execute("DELETE FROM period_scores")
    op.execute("DELETE FROM period_totals")
    _fill_current_periods(now)
    op.execute(
        "INSERT INTO period_totals (guild_id, period, starts_on, members) "
        "SELECT guild_id, period, starts_on, COUNT(*) FROM period_scores "
        "WHERE hidden = false GROUP BY guild_id, period, starts_on"
    )


def _fill_current_periods(now: dt.datetime) -> None:
    """Count this week's and month's completions of every server, in its timezone (as 0003)."""
    conn = op.get_bind()
    recent = now - dt.timedelta(days=32)
    guilds = conn.execute(
        sa.select(completions.c.guild_id, settings.c.timezone)
        .distinct()
        .select_from(completions.outerjoin(settings, settings.c.guild_id == completions.c.guild_id))
        .where(completions.c.completed_at >= recent)
    ).all()
    for guild_id, zone in guilds:
        tz = ZoneInfo(zone or "UTC")
        for period in PERIODS:
            starts_on = period_start(period, now, tz)
            start, end = period_bounds(period, starts_on, tz)
            rows = conn.execute(
                sa.select(
                    completions.c.user_id,
                    sa.func.count(),
                    sa.func.max(completions.c.completed_at),
                    members.c.hidden,
                )
                .select_from(
                    completions.join(
                        members,
                        (members.c.guild_id == completions.c.guild_id)
                        & (members.c.user_id == completions.c.user_id),
                    )
                )
                .where(
                    completions.c.guild_id == guild_id,
                    completions.c.completed_at >= start,
                    completions.c.completed_at < end,
                )
                .group_by(completions.c.user_id, members.c.hidden)
            ).all()
            if rows:
                conn.execute(
                    period_scores.insert(),
                    [
                        {
                            "guild_id": guild_id,
                            "period": period,
                            "starts_on": starts_on,
                            "user_id": user_id,
                            "n": n,
                            "last_at": last,
                            "hidden": hidden,
                        }
                        for user_id, n, last, hidden in rows
                    ],
                )


def downgrade() -> None:
    """Drop the new tables and columns; take the project completions back out of the counts."""
    removed = _rowcount(
        op.get_bind().execute(sa.delete(completions).where(completions.c.item_id.in_(PROJECT_IDS)))
    )
    if removed:
        _recount_completions(dt.datetime.now(dt.UTC))
    op.drop_table("metric_totals")
    op.drop_table("level_times")
    op.drop_table("activity_days")
    op.drop_table("item_counts")
    op.drop_table("level_counts")
    op.drop_table("assessment_ratings")
    op.drop_table("assessments")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index("ix_members_activity")
        batch_op.drop_column("last_assessed_on")
        batch_op.drop_column("last_active_on")
    with op.batch_alter_table("checkin_cycles", schema=None) as batch_op:
        batch_op.drop_column("answer_count")
    with op.batch_alter_table("guild_settings", schema=None) as batch_op:
        batch_op.drop_column("assess_every_weeks")
