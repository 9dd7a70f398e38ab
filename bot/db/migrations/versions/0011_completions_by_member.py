"""completions: on SQLite, rewritten in key order with statistics (a minute per 5M rows)

A member's `/progress` reads all their completions: with a rowid table each of them is a
page of its own, found through the key's index. Stored WITHOUT ROWID, the table is that
index: a member's few dozen rows share a page or two.

SQLite also chose how to read completions without statistics (the bot never runs ANALYZE):
for a member's latest completions it walked the server's time index from the newest down
until it had found five of theirs, 13 seconds at 100,000 members and 5,000,000 completions
instead of a tenth of a millisecond. This migration writes statistics for it and for members
that describe their shape (a server of many members with a few dozen completions each), so
every connection opened after it reads a member's rows through their key, and a server's
period through the time index. ANALYZE, when an operator runs it, replaces them with
measured ones, which lead to the same choices.

On PostgreSQL nothing changes: its tables are heaps, and autovacuum keeps the statistics.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = "guild_id, user_id, item_id, completed_at, evidence, granted_by"
# sqlite_stat1 rows: the table's rows, then rows per leading column(s) of each index. A
# server of 100,000 members with 20 completions each: (guild, user) picks 20 completions,
# (guild) alone 2,000,000. The members' shape goes with it: without it, a server's period
# joined to its members (`scores.rebuild_periods`) would read every member's completions
# instead of the period's through the time index.
STATISTICS = (
    ("completions", "completions", "2000000 2000000 20 1"),
    ("completions", "ix_completions_guild_time", "2000000 2000000 2"),
    ("members", "sqlite_autoindex_members_1", "100000 100000 1"),
    ("members", "ix_members_rank", "100000 100000 50000 200 1 1"),
    ("members", "ix_members_activity", "100000 100000 50000 1000 1"),
)
TABLES = "('completions', 'members')"


def _rebuild(*, with_rowid: bool) -> None:
    """Copy completions into a new table (in key order, the fastest way into a B-tree)."""
    op.create_table(
        "completions_new",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("evidence", sa.String(length=500), nullable=True),
        sa.Column("granted_by", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("guild_id", "user_id", "item_id", name="pk_completions"),
        sqlite_with_rowid=with_rowid,
    )
    op.execute(
        f"INSERT INTO completions_new ({COLUMNS}) SELECT {COLUMNS} FROM completions "
        "ORDER BY guild_id, user_id, item_id"
    )
    op.drop_index("ix_completions_guild_time", table_name="completions")
    op.drop_table("completions")
    op.rename_table("completions_new", "completions")
    op.create_index("ix_completions_guild_time", "completions", ["guild_id", "completed_at"])


def upgrade() -> None:
    """Rebuild completions WITHOUT ROWID and write its statistics (SQLite only)."""
    if op.get_bind().dialect.name != "sqlite":
        return
    _rebuild(with_rowid=False)
    # ANALYZE of the schema table alone creates sqlite_stat1 when it is missing, and writes
    # nothing into it.
    op.execute("ANALYZE sqlite_master")
    op.execute(f"DELETE FROM sqlite_stat1 WHERE tbl IN {TABLES}")
    for table, index, stat in STATISTICS:
        op.execute(
            sa.text("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (:t, :i, :s)").bindparams(
                t=table, i=index, s=stat
            )
        )


def downgrade() -> None:
    """A rowid table again, without the written statistics (SQLite only)."""
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(f"DELETE FROM sqlite_stat1 WHERE tbl IN {TABLES}")
    _rebuild(with_rowid=True)
