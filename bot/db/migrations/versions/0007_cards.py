"""cards: pictures on or off per server and per member; the avatar last seen of each member

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _true() -> sa.TextClause | sa.sql.elements.True_:
    """A true default that SQLite takes as a constant (1); PostgreSQL's boolean `true`."""
    return sa.text("1") if op.get_bind().dialect.name == "sqlite" else sa.true()


def upgrade() -> None:
    """Add the cards switches (on for everyone already there) and members' avatar paths."""
    # In place, not through a copy of each table: SQLite adds a column with a constant
    # default itself, and a copy of members lost ix_members_rank's DESC (0009 mends it).
    on = _true()
    op.add_column(
        "guild_settings", sa.Column("cards", sa.Boolean(), server_default=on, nullable=False)
    )
    op.add_column("members", sa.Column("cards", sa.Boolean(), server_default=on, nullable=False))
    op.add_column("members", sa.Column("avatar_path", sa.String(length=160), nullable=True))


def downgrade() -> None:
    """Drop the switches and the avatar paths."""
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("avatar_path")
        batch_op.drop_column("cards")
    # SQLite's copy of the table recreated the ranking index without its DESC.
    op.drop_index("ix_members_rank", table_name="members")
    op.create_index(
        "ix_members_rank",
        "members",
        [
            "guild_id",
            "hidden",
            sa.literal_column("completed_count DESC"),
            "last_completed_at",
            "user_id",
        ],
        unique=False,
    )
    with op.batch_alter_table("guild_settings", schema=None) as batch_op:
        batch_op.drop_column("cards")
