"""away periods: every stretch a member was away, for exact streaks

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create away_periods and carry over each member's current away date."""
    op.create_table(
        "away_periods",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "user_id", "starts_on", name=op.f("pk_away_periods")),
    )
    # Members away before this version: their period is taken to start when they joined.
    sqlite = op.get_bind().dialect.name == "sqlite"
    day = "DATE(created_at)" if sqlite else "CAST(created_at AS DATE)"
    op.execute(
        "INSERT INTO away_periods (guild_id, user_id, starts_on, ends_on) "
        f"SELECT guild_id, user_id, {day}, away_until FROM members "
        "WHERE away_until IS NOT NULL"
    )


def downgrade() -> None:
    """Drop away_periods (members keep their current away date)."""
    op.drop_table("away_periods")
