"""SQLAlchemy models. Everything that belongs to a server is keyed by its guild id."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.defaults import ASSESS_EVERY_WEEKS, CARDS, CHECKIN_OPEN_HOURS, LEVEL_THRESHOLD


def utcnow() -> dt.datetime:
    """Return the current time, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


class TZDateTime(TypeDecorator[dt.datetime]):
    """Store aware datetimes as UTC and give them back aware, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a TZDateTime column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations are stable."""

    metadata = MetaData(naming_convention=NAMING)


Snowflake = BigInteger


class GuildSettings(Base):
    """One row per server that changed a setting."""

    __tablename__ = "guild_settings"

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    timezone: Mapped[str | None] = mapped_column(String(64))
    level_threshold: Mapped[int] = mapped_column(Integer, default=LEVEL_THRESHOLD)
    announce_channel_id: Mapped[int | None] = mapped_column(Snowflake)

    checkins_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    checkin_channel_id: Mapped[int | None] = mapped_column(Snowflake)
    checkin_weekday: Mapped[int | None] = mapped_column(Integer)  # 0 = Monday
    checkin_time: Mapped[str | None] = mapped_column(String(5))  # HH:MM
    checkin_open_hours: Mapped[int] = mapped_column(Integer, default=CHECKIN_OPEN_HOURS)

    reminders_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    reminder_channel_id: Mapped[int | None] = mapped_column(Snowflake)
    reminder_weekday: Mapped[int | None] = mapped_column(Integer)
    reminder_time: Mapped[str | None] = mapped_column(String(5))
    reminder_timezone: Mapped[str | None] = mapped_column(String(64))
    last_principle: Mapped[int | None] = mapped_column(Integer)
    assess_every_weeks: Mapped[int] = mapped_column(Integer, default=ASSESS_EVERY_WEEKS)
    cards: Mapped[bool] = mapped_column(Boolean, default=CARDS, server_default=true())

    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow, onupdate=utcnow)


class LevelRole(Base):
    """The role given to members who reach a level in a server."""

    __tablename__ = "level_roles"

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    role_id: Mapped[int] = mapped_column(Snowflake)
    configured_by: Mapped[int] = mapped_column(Snowflake)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)


class Member(Base):
    """A member of one server, with the counters that keep rankings cheap."""

    __tablename__ = "members"

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    started_on: Mapped[dt.date | None] = mapped_column(Date)
    timezone: Mapped[str | None] = mapped_column(String(64))
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    completed_count: Mapped[int] = mapped_column(Integer, default=0)
    last_completed_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    level: Mapped[int] = mapped_column(Integer, default=0)

    away_until: Mapped[dt.date | None] = mapped_column(Date)
    reminders_subscribed: Mapped[bool] = mapped_column(Boolean, default=False)
    reminder_weekday: Mapped[int | None] = mapped_column(Integer)
    reminder_time: Mapped[str | None] = mapped_column(String(5))
    dm_failed_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    dm_failure_told: Mapped[bool] = mapped_column(Boolean, default=False)
    cards: Mapped[bool] = mapped_column(Boolean, default=CARDS, server_default=true())
    # The avatar Discord last showed us (its CDN path, e.g. "avatars/<id>/<hash>.png"), so a
    # leaderboard draws avatars without a member list; None: no custom avatar seen.
    avatar_path: Mapped[str | None] = mapped_column(String(160))

    # The UTC day of the member's latest completion or check-in answer (or of their first
    # appearance): `/config insights` counts members by it (ActivityDay).
    last_active_on: Mapped[dt.date | None] = mapped_column(Date)
    last_assessed_on: Mapped[dt.date | None] = mapped_column(Date)

    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)


# The leaderboard walks this index in order: a page or a rank never sorts the whole server.
Index(
    "ix_members_rank",
    Member.guild_id,
    Member.hidden,
    Member.completed_count.desc(),
    Member.last_completed_at,
    Member.user_id,
)


# `/config insights` pages through the shown members inactive the longest.
Index(
    "ix_members_activity",
    Member.guild_id,
    Member.hidden,
    Member.last_active_on,
    Member.user_id,
)


class AwayPeriod(Base):
    """A stretch of days a member is away: check-ins missed then do not break the streak.

    Every period is kept (not just the latest), so a streak walked back through the years
    still forgives each of them. `Member.away_until` is the current one, for quick filters.
    """

    __tablename__ = "away_periods"

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    starts_on: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    ends_on: Mapped[dt.date] = mapped_column(Date)


class ScoreBucket(Base):
    """How many shown members of a server have completed exactly `n` items (n > 0).

    At most 130 rows a server: the leaderboard's total and a member's rank add these up
    instead of counting every member.
    """

    __tablename__ = "score_buckets"

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    members: Mapped[int] = mapped_column(Integer, default=0)


class ScoreDay(Base):
    """How many shown members of a server have completed exactly `n` items (n > 0) with
    their latest completion on `day` (UTC).

    Ties on a count go to who got there first: a member's rank adds up the days before
    theirs instead of counting every member tied with them.
    """

    __tablename__ = "score_days"
    # On SQLite the rows live in their key's B-tree (no rowid table beside it): a rank sums a
    # count's days in one range, and a completion dirties one page here instead of two.
    __table_args__ = {"sqlite_with_rowid": False}

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    members: Mapped[int] = mapped_column(Integer, default=0)


class PeriodScore(Base):
    """A member's completions in one week or month (in the server's timezone)."""

    __tablename__ = "period_scores"

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    period: Mapped[str] = mapped_column(String(8), primary_key=True)  # "week" or "month"
    starts_on: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    user_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[dt.datetime] = mapped_column(TZDateTime)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)


class PeriodTotal(Base):
    """How many shown members completed something in one week or month: a page's total."""

    __tablename__ = "period_totals"

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    period: Mapped[str] = mapped_column(String(8), primary_key=True)
    starts_on: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    members: Mapped[int] = mapped_column(Integer, default=0)


Index(
    "ix_period_scores_rank",
    PeriodScore.guild_id,
    PeriodScore.period,
    PeriodScore.starts_on,
    PeriodScore.hidden,
    PeriodScore.n.desc(),
    PeriodScore.last_at,
    PeriodScore.user_id,
)


class Completion(Base):
    """One roadmap item done by one member; the key makes completing twice a no-op.

    On SQLite the table is stored in key order (WITHOUT ROWID), so a member's rows share a
    page or two; migration 0011 also gives it statistics (see there)."""

    __tablename__ = "completions"
    __table_args__ = (
        Index("ix_completions_guild_time", "guild_id", "completed_at"),
        {"sqlite_with_rowid": False},
    )

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    item_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    completed_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    evidence: Mapped[str | None] = mapped_column(String(500))
    granted_by: Mapped[int | None] = mapped_column(Snowflake)


class LevelAnnouncement(Base):
    """A level-up that was announced: the key means never twice per member and level."""

    __tablename__ = "level_announcements"

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    reached_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)


class AuditEntry(Base):
    """An admin's correction of a member's progress, or a reviewer's decision."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_guild_time", "guild_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(Snowflake)
    # None: a reviewer who deleted their data; the decision stays, without their name.
    actor_id: Mapped[int | None] = mapped_column(Snowflake)
    member_id: Mapped[int] = mapped_column(Snowflake)
    item_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)


class BotState(Base):
    """Process-wide key/value state, such as the hash of the last synced command tree."""

    __tablename__ = "bot_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow, onupdate=utcnow)


class CheckinCycle(Base):
    """One weekly check-in of a server; the unique key stops two processes opening it twice."""

    __tablename__ = "checkin_cycles"
    __table_args__ = (
        UniqueConstraint("guild_id", "opens_at"),
        Index("ix_checkin_cycles_open", "closed_at", "closes_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(Snowflake)
    channel_id: Mapped[int] = mapped_column(Snowflake)
    message_id: Mapped[int | None] = mapped_column(Snowflake)
    opens_at: Mapped[dt.datetime] = mapped_column(TZDateTime)
    closes_at: Mapped[dt.datetime] = mapped_column(TZDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    nudged_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    answer_count: Mapped[int] = mapped_column(Integer, default=0)


class CheckinAnswer(Base):
    """A member's answer to one cycle; answering again replaces it."""

    __tablename__ = "checkin_answers"
    __table_args__ = (Index("ix_checkin_answers_member", "guild_id", "user_id", "cycle_id"),)

    cycle_id: Mapped[int] = mapped_column(
        ForeignKey("checkin_cycles.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    guild_id: Mapped[int] = mapped_column(Snowflake)
    learned: Mapped[str] = mapped_column(Text, default="")
    built: Mapped[str] = mapped_column(Text, default="")
    milestones: Mapped[str] = mapped_column(Text, default="")
    feedback: Mapped[str] = mapped_column(Text, default="")
    hours: Mapped[float] = mapped_column(Float, default=0.0)
    submitted_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)


class JobRun(Base):
    """A scheduled run claimed by one process: the key makes "run once" hold across processes."""

    __tablename__ = "job_runs"

    job_key: Mapped[str] = mapped_column(String(120), primary_key=True)
    due_at: Mapped[dt.datetime] = mapped_column(TZDateTime, primary_key=True)
    claimed_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)


class ReviewSettings(Base):
    """Which items of a server need a reviewer's approval, and where submissions are posted.

    No category and no level: nothing needs review. Categories only: those categories at every
    level. A level only: every item from that level on. Both: those categories from that level.
    """

    __tablename__ = "review_settings"

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    projects: Mapped[bool] = mapped_column(Boolean, default=False)
    professional: Mapped[bool] = mapped_column(Boolean, default=False)
    checklist: Mapped[bool] = mapped_column(Boolean, default=False)
    from_level: Mapped[int | None] = mapped_column(Integer)
    channel_id: Mapped[int | None] = mapped_column(Snowflake)
    updated_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow, onupdate=utcnow)


class ReviewerRole(Base):
    """A role whose members may review submissions in a server."""

    __tablename__ = "reviewer_roles"

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    role_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)


class ReviewSubmission(Base):
    """A member's evidence for an item that needs review, and the decision on it.

    Open while `decided_at` is NULL: the partial unique index allows one open submission per
    member and item (submitting again replaces its evidence), and any number of decided ones.
    A claim older than the claim time is treated as no claim (computed on read).
    """

    __tablename__ = "review_submissions"
    __table_args__ = (
        Index(
            "uq_review_submissions_open",
            "guild_id",
            "user_id",
            "item_id",
            unique=True,
            sqlite_where=text("decided_at IS NULL"),
            postgresql_where=text("decided_at IS NULL"),
        ),
        Index("ix_review_submissions_queue", "guild_id", "decided_at", "submitted_at"),
        Index("ix_review_submissions_member", "guild_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(Snowflake)
    user_id: Mapped[int] = mapped_column(Snowflake)
    item_id: Mapped[str] = mapped_column(String(64))
    evidence: Mapped[str] = mapped_column(String(500))
    channel_id: Mapped[int | None] = mapped_column(Snowflake)  # where it was submitted
    submitted_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    claimed_by: Mapped[int | None] = mapped_column(Snowflake)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    post_channel_id: Mapped[int | None] = mapped_column(Snowflake)
    post_message_id: Mapped[int | None] = mapped_column(Snowflake)
    decision: Mapped[str | None] = mapped_column(String(16))
    decided_by: Mapped[int | None] = mapped_column(Snowflake)
    decided_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    notice_pending: Mapped[bool] = mapped_column(Boolean, default=False)


class Assessment(Base):
    """A member's self-assessment of one day (their timezone's); a second that day replaces it."""

    __tablename__ = "assessments"

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    taken_on: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    saved_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)


class AssessmentRating(Base):
    """One metric rated 1 to 5 in one assessment; a skipped metric has no row."""

    __tablename__ = "assessment_ratings"

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    taken_on: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    metric_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    rating: Mapped[int] = mapped_column(Integer)


# The counters behind `/config insights`, kept in the same transaction as each change, so the
# page reads a few hundred small rows at most, never every member.


class LevelCount(Base):
    """How many members of a server are at `level` (levels 1 and up; level 0 is the rest)."""

    __tablename__ = "level_counts"

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    members: Mapped[int] = mapped_column(Integer, default=0)


class ItemCount(Base):
    """How many members of a server have completed an item (or a project)."""

    __tablename__ = "item_counts"

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    item_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    members: Mapped[int] = mapped_column(Integer, default=0)


class ActivityDay(Base):
    """How many members (shown, hidden) were last active on a UTC day: all members, in all."""

    __tablename__ = "activity_days"

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    members: Mapped[int] = mapped_column(Integer, default=0)
    hidden: Mapped[int] = mapped_column(Integer, default=0)


class LevelTime(Base):
    """How many members first reached `level` `months` whole months into their journey."""

    __tablename__ = "level_times"

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    months: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    members: Mapped[int] = mapped_column(Integer, default=0)


class MetricTotal(Base):
    """The sum and count of members' latest self-ratings of a metric: its server average."""

    __tablename__ = "metric_totals"

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    metric_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    members: Mapped[int] = mapped_column(Integer, default=0)
    rating_sum: Mapped[int] = mapped_column(Integer, default=0)


class RoleSync(Base):
    """A server's `/config sync-roles` run: where it stands, so a restart resumes it."""

    __tablename__ = "role_syncs"

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(16))  # "running", "done" or "failed"
    requested_by: Mapped[int] = mapped_column(Snowflake)
    after_user_id: Mapped[int] = mapped_column(Snowflake, default=0)  # members up to it: done
    total: Mapped[int] = mapped_column(Integer, default=0)  # members when it started
    checked: Mapped[int] = mapped_column(Integer, default=0)
    changed_levels: Mapped[int] = mapped_column(Integer, default=0)
    given: Mapped[int] = mapped_column(Integer, default=0)
    taken: Mapped[int] = mapped_column(Integer, default=0)
    gone: Mapped[int] = mapped_column(Integer, default=0)  # members no longer in the server
    failed: Mapped[int] = mapped_column(Integer, default=0)  # role changes Discord refused
    last_error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(TZDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(TZDateTime)
