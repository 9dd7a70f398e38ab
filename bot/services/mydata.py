"""A member's own data in one server: export it, or delete it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from bot.clock import Clock, SystemClock
from bot.db import Database
from bot.db.models import (
    Assessment,
    AssessmentRating,
    AuditEntry,
    AwayPeriod,
    CheckinAnswer,
    Completion,
    LevelAnnouncement,
    Member,
)
from bot.roadmap import PROJECT
from bot.services import insights, reviews, scores
from bot.services.progress import lock_member


@dataclass(frozen=True)
class Deleted:
    """How much was removed."""

    completions: int
    checkin_answers: int
    level: int
    review_submissions: int = 0
    review_posts: tuple[tuple[int, int], ...] = ()  # (channel, message) posts to delete
    assessments: int = 0


def _iso(value: object) -> object:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


def _row(obj: Any, *skip: str) -> dict[str, object]:
    return {c.key: _iso(getattr(obj, c.key)) for c in obj.__table__.columns if c.key not in skip}


class MyDataService:
    """Export and delete what the bot stores about one member in one server."""

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self.db = db
        self.clock: Clock = clock or SystemClock()

    async def export(self, guild_id: int, user_id: int) -> dict[str, object]:
        """Everything stored about the member in this server, as JSON-ready data."""
        async with self.db.read() as s:
            member = await s.get(Member, (guild_id, user_id))
            completions = (
                await s.scalars(
                    select(Completion)
                    .where(Completion.guild_id == guild_id, Completion.user_id == user_id)
                    .order_by(Completion.completed_at)
                )
            ).all()
            answers = (
                await s.scalars(
                    select(CheckinAnswer)
                    .where(CheckinAnswer.guild_id == guild_id, CheckinAnswer.user_id == user_id)
                    .order_by(CheckinAnswer.submitted_at)
                )
            ).all()
            levels = (
                await s.scalars(
                    select(LevelAnnouncement)
                    .where(
                        LevelAnnouncement.guild_id == guild_id,
                        LevelAnnouncement.user_id == user_id,
                    )
                    .order_by(LevelAnnouncement.level)
                )
            ).all()
            audit = (
                await s.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.guild_id == guild_id, AuditEntry.member_id == user_id)
                    .order_by(AuditEntry.created_at)
                )
            ).all()
            away = (
                await s.scalars(
                    select(AwayPeriod)
                    .where(AwayPeriod.guild_id == guild_id, AwayPeriod.user_id == user_id)
                    .order_by(AwayPeriod.starts_on)
                )
            ).all()
            submissions = await s.run_sync(reviews.export_rows, guild_id, user_id)
            assessments = (
                await s.scalars(
                    select(Assessment)
                    .where(Assessment.guild_id == guild_id, Assessment.user_id == user_id)
                    .order_by(Assessment.taken_on)
                )
            ).all()
            ratings: dict[dt.date, dict[str, int]] = {}
            for taken_on, metric_id, rating in await s.execute(
                select(
                    AssessmentRating.taken_on, AssessmentRating.metric_id, AssessmentRating.rating
                ).where(AssessmentRating.guild_id == guild_id, AssessmentRating.user_id == user_id)
            ):
                ratings.setdefault(taken_on, {})[metric_id] = rating
        return {
            "exported_at": self.clock.now().isoformat(),
            "guild_id": str(guild_id),
            "user_id": str(user_id),
            "profile": _row(member, "guild_id", "user_id") if member else None,
            "completions": [_row(c, "guild_id", "user_id") for c in completions],
            "checkin_answers": [_row(a, "guild_id", "user_id") for a in answers],
            "levels_reached": [_row(x, "guild_id", "user_id") for x in levels],
            "admin_corrections": [_row(a, "guild_id") for a in audit],
            "away_periods": [_row(a, "guild_id", "user_id") for a in away],
            **submissions,
            # Projects are completed like items (they are in `completions` too).
            "projects": [
                {"project_id": c.item_id, "completed_at": _iso(c.completed_at)}
                for c in completions
                if c.item_id.split(".")[1:2] == [PROJECT]
            ],
            "assessments": [
                {**_row(a, "guild_id", "user_id"), "ratings": ratings.get(a.taken_on, {})}
                for a in assessments
            ],
        }

    async def delete(self, guild_id: int, user_id: int) -> Deleted:
        """Remove the member's data in this server, with the admin corrections made to it."""
        async with self.db.write.begin() as s:
            # Locked first, as a completion locks it (`claim_member`). A member without a row
            # gets one for the time being: a completion making theirs waits for this.
            await s.run_sync(lock_member, guild_id, user_id, None, self.clock.now())
            member = await s.get(Member, (guild_id, user_id))
            level = member.level if member else 0
            # Uncount them first: the counters are worked out from the rows about to go.
            await s.run_sync(insights.forget, guild_id, user_id)
            done = await s.execute(
                delete(Completion).where(
                    Completion.guild_id == guild_id, Completion.user_id == user_id
                )
            )
            answers = await s.execute(
                delete(CheckinAnswer).where(
                    CheckinAnswer.guild_id == guild_id, CheckinAnswer.user_id == user_id
                )
            )
            await s.execute(
                delete(LevelAnnouncement).where(
                    LevelAnnouncement.guild_id == guild_id, LevelAnnouncement.user_id == user_id
                )
            )
            await s.execute(
                delete(AuditEntry).where(
                    AuditEntry.guild_id == guild_id,
                    AuditEntry.member_id == user_id,
                )
            )
            await s.run_sync(scores.forget, guild_id, user_id)
            submitted, posts = await s.run_sync(reviews.forget, guild_id, user_id)
            await s.execute(
                delete(AwayPeriod).where(
                    AwayPeriod.guild_id == guild_id, AwayPeriod.user_id == user_id
                )
            )
            assessments = await s.execute(
                delete(Assessment).where(
                    Assessment.guild_id == guild_id, Assessment.user_id == user_id
                )
            )
            await s.execute(
                delete(AssessmentRating).where(
                    AssessmentRating.guild_id == guild_id, AssessmentRating.user_id == user_id
                )
            )
            await s.execute(
                delete(Member).where(Member.guild_id == guild_id, Member.user_id == user_id)
            )
        return Deleted(
            done.rowcount,  # type: ignore[attr-defined]
            answers.rowcount,  # type: ignore[attr-defined]
            level,
            submitted,
            tuple(posts),
            assessments=assessments.rowcount,  # type: ignore[attr-defined]
        )
