"""reviews: which items need a reviewer, who reviews, submissions and their decisions

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("decided_at IS NULL")


def upgrade() -> None:
    """Create the review tables; let audit entries lose their actor (a deleted reviewer)."""
    op.create_table(
        "review_settings",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("projects", sa.Boolean(), nullable=False),
        sa.Column("professional", sa.Boolean(), nullable=False),
        sa.Column("checklist", sa.Boolean(), nullable=False),
        sa.Column("from_level", sa.Integer(), nullable=True),
        sa.Column("channel_id", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", name=op.f("pk_review_settings")),
    )
    op.create_table(
        "reviewer_roles",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("role_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "role_id", name=op.f("pk_reviewer_roles")),
    )
    op.create_table(
        "review_submissions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("evidence", sa.String(length=500), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.BigInteger(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("post_channel_id", sa.BigInteger(), nullable=True),
        sa.Column("post_message_id", sa.BigInteger(), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("decided_by", sa.BigInteger(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("notice_pending", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_submissions")),
    )
    with op.batch_alter_table("review_submissions", schema=None) as batch_op:
        batch_op.create_index(
            "uq_review_submissions_open",
            ["guild_id", "user_id", "item_id"],
            unique=True,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        )
        batch_op.create_index(
            "ix_review_submissions_queue", ["guild_id", "decided_at", "submitted_at"]
        )
        batch_op.create_index("ix_review_submissions_member", ["guild_id", "user_id"])
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.alter_column("actor_id", existing_type=sa.BigInteger(), nullable=True)


def downgrade() -> None:
    """Drop the review tables; anonymous audit entries get actor 0."""
    op.execute("UPDATE audit_log SET actor_id = 0 WHERE actor_id IS NULL")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.alter_column("actor_id", existing_type=sa.BigInteger(), nullable=False)
    with op.batch_alter_table("review_submissions", schema=None) as batch_op:
        batch_op.drop_index("ix_review_submissions_member")
        batch_op.drop_index("ix_review_submissions_queue")
        batch_op.drop_index("uq_review_submissions_open")
    op.drop_table("review_submissions")
    op.drop_table("reviewer_roles")
    op.drop_table("review_settings")
