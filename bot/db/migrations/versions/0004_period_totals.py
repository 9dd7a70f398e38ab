"""period totals: shown members per week and month, for leaderboard totals

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create period_totals and count the members already in period_scores."""
    op.create_table(
        "period_totals",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "period", "starts_on", name=op.f("pk_period_totals")),
    )
    op.execute(
        "INSERT INTO period_totals (guild_id, period, starts_on, members) "
        "SELECT guild_id, period, starts_on, COUNT(*) FROM period_scores "
        "WHERE hidden = false GROUP BY guild_id, period, starts_on"
    )


def downgrade() -> None:
    """Drop period_totals (derived data)."""
    op.drop_table("period_totals")
