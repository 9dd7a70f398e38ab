"""score_days: shown members per completed count and day of their latest completion

A member's rank counted every member tied with them on their count one by one (13,000 of
them at the top of a 100,000-member server); with these rows it adds up the days before
theirs and counts only the members tied on the same day.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create score_days and fill it from the members' counters."""
    op.create_table(
        "score_days",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("n", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "n", "day", name=op.f("pk_score_days")),
        sqlite_with_rowid=False,
    )
    # Stored as UTC: SQLite keeps the naive UTC text, PostgreSQL a timestamptz.
    if op.get_bind().dialect.name == "sqlite":
        day = "date(last_completed_at)"
    else:
        day = "CAST(last_completed_at AT TIME ZONE 'UTC' AS DATE)"
    op.execute(
        f"INSERT INTO score_days (guild_id, n, day, members) "
        f"SELECT guild_id, completed_count, {day}, count(*) FROM members "
        "WHERE hidden = false AND completed_count > 0 AND last_completed_at IS NOT NULL "
        f"GROUP BY guild_id, completed_count, {day}"
    )


def downgrade() -> None:
    """Drop score_days."""
    op.drop_table("score_days")
