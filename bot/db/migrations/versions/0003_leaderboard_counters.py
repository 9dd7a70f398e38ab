"""leaderboard counters: members per completed count, and week/month scores

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

"""

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

from bot.db.models import TZDateTime
from bot.services.scores import PERIODS, period_bounds, period_start

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the counter tables and fill them from the data already there."""
    op.create_table(
        "period_scores",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint(
            "guild_id", "period", "starts_on", "user_id", name=op.f("pk_period_scores")
        ),
    )
    with op.batch_alter_table("period_scores", schema=None) as batch_op:
        batch_op.create_index(
            "ix_period_scores_rank",
            [
                "guild_id",
                "period",
                "starts_on",
                "hidden",
                sa.literal_column("n DESC"),
                "last_at",
                "user_id",
            ],
            unique=False,
        )

    op.create_table(
        "score_buckets",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("n", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "n", name=op.f("pk_score_buckets")),
    )
    op.execute(
        "INSERT INTO score_buckets (guild_id, n, members) "
        "SELECT guild_id, completed_count, COUNT(*) FROM members "
        "WHERE hidden = false AND completed_count > 0 GROUP BY guild_id, completed_count"
    )
    _fill_current_periods(dt.datetime.now(dt.UTC))


def _fill_current_periods(now: dt.datetime) -> None:
    """Count this week's and month's completions of every server, in its timezone."""
    conn = op.get_bind()
    completions = sa.table(
        "completions",
        sa.column("guild_id", sa.BigInteger),
        sa.column("user_id", sa.BigInteger),
        sa.column("completed_at", TZDateTime),
    )
    members = sa.table(
        "members",
        sa.column("guild_id", sa.BigInteger),
        sa.column("user_id", sa.BigInteger),
        sa.column("hidden", sa.Boolean),
    )
    settings = sa.table(
        "guild_settings", sa.column("guild_id", sa.BigInteger), sa.column("timezone", sa.String)
    )
    scores = sa.table(
        "period_scores",
        sa.column("guild_id", sa.BigInteger),
        sa.column("period", sa.String),
        sa.column("starts_on", sa.Date),
        sa.column("user_id", sa.BigInteger),
        sa.column("n", sa.Integer),
        sa.column("last_at", TZDateTime),
        sa.column("hidden", sa.Boolean),
    )
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
                    scores.insert(),
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
    """Drop the counters (they are derived data)."""
    op.drop_table("score_buckets")
    with op.batch_alter_table("period_scores", schema=None) as batch_op:
        batch_op.drop_index("ix_period_scores_rank")

    op.drop_table("period_scores")
