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


def upgrade() -> None:
    """Add the cards switches (on for everyone already there) and members' avatar paths."""
    with op.batch_alter_table("guild_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cards", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cards", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(sa.Column("avatar_path", sa.String(length=160), nullable=True))


def downgrade() -> None:
    """Drop the switches and the avatar paths."""
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("avatar_path")
        batch_op.drop_column("cards")
    with op.batch_alter_table("guild_settings", schema=None) as batch_op:
        batch_op.drop_column("cards")
