"""ix_members_rank in ranking order again (completed_count DESC)

On SQLite, 0007 copied the members table to add its columns, and the copy recreated
ix_members_rank without its DESC: a leaderboard page then sorted every member with the
same count (tens of milliseconds at 100,000 members instead of a fraction of one). The
index is built again as 0001 made it, on every database (on PostgreSQL it is unchanged).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RANK_COLUMNS: list[str | sa.TextClause | sa.ColumnElement[Any]] = [
    "guild_id",
    "hidden",
    sa.literal_column("completed_count DESC"),
    "last_completed_at",
    "user_id",
]


def upgrade() -> None:
    """Rebuild ix_members_rank with completed_count descending."""
    op.drop_index("ix_members_rank", table_name="members")
    op.create_index("ix_members_rank", "members", RANK_COLUMNS, unique=False)


def downgrade() -> None:
    """Nothing to undo: the index is what 0001 made."""
