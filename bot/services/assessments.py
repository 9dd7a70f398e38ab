"""Self-assessment against the roadmap's "Measuring Progress" metrics, and its trend.

A member rates any of the 15 metrics from 1 to 5; what they leave out is not rated. Saving
records an assessment dated by the member's own day (their timezone); a second one the
same day replaces that day's. A metric (or a whole group) left out is reported as missing
from that assessment: no earlier rating is copied into it. The trend of a metric is read
from the assessments that rated it: the latest, the one before, and the first; the history
chart reads every rating of each metric over time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bot.clock import Clock, SystemClock
from bot.db import Database, upsert
from bot.db.models import Assessment, AssessmentRating, GuildSettings, Member
from bot.defaults import ASSESS_EVERY_MAX_WEEKS, ASSESS_EVERY_WEEKS
from bot.errors import NotFoundError, UserError
from bot.roadmap import Metric, Roadmap
from bot.services import insights
from bot.services.guilds import save_settings
from bot.services.progress import claim_member
from bot.weekly import local_today

LOWEST, HIGHEST = 1, 5


def assessment_due(last_on: dt.date | None, today: dt.date, every_weeks: int) -> bool:
    """Whether a member should be reminded to assess themselves (never when `every_weeks` is 0)."""
    if every_weeks <= 0:
        return False
    return last_on is None or today - last_on >= dt.timedelta(weeks=every_weeks)


@dataclass(frozen=True)
class Rating:
    """One metric rated on one day."""

    rating: int
    taken_on: dt.date


@dataclass(frozen=True)
class MetricTrend:
    """A metric's latest rating against the previous one and the first one."""

    metric: Metric
    latest: Rating | None
    previous: Rating | None
    first: Rating | None


@dataclass(frozen=True)
class MetricRatings:
    """Every rating of one metric, oldest first (empty when never rated)."""

    metric: Metric
    ratings: tuple[Rating, ...]


@dataclass(frozen=True)
class History:
    """What `/assess history` shows."""

    user_id: int
    assessments: int
    first_on: dt.date | None
    last_on: dt.date | None
    trends: tuple[MetricTrend, ...]


@dataclass(frozen=True)
class Saved:
    """What saving an assessment did."""

    taken_on: dt.date
    replaced: bool
    rated: int
    missing: tuple[Metric, ...]  # metrics left out of this assessment
    missing_groups: tuple[str, ...]  # groups with not one metric rated


class AssessmentService:
    """Saves self-assessments and reads their trend; keeps the server averages in step."""

    def __init__(self, db: Database, roadmap: Roadmap, clock: Clock | None = None) -> None:
        self.db = db
        self.roadmap = roadmap
        self.clock: Clock = clock or SystemClock()

    def check(self, ratings: Mapping[str, int]) -> dict[str, int]:
        """Refuse unknown metrics, ratings outside 1-5, and an assessment with no rating."""
        for metric_id, rating in ratings.items():
            if self.roadmap.metric(metric_id) is None:
                raise NotFoundError(
                    f"There is no metric `{metric_id[:60]}`: run `/assess rate` again."
                )
            if not LOWEST <= rating <= HIGHEST:
                raise UserError(f"Ratings go from {LOWEST} to {HIGHEST}: run `/assess rate` again.")
        if not ratings:
            raise UserError("Rate at least one metric to save an assessment (or cancel).")
        return dict(ratings)

    async def save(
        self,
        guild_id: int,
        user_id: int,
        ratings: Mapping[str, int],
        *,
        display_name: str | None = None,
    ) -> Saved:
        """Record today's assessment (the member's today), replacing one saved earlier today."""
        checked = self.check(ratings)
        return await self.db.run_write(
            self._save, guild_id, user_id, checked, display_name, self.clock.now()
        )

    def _save(
        self,
        s: Session,
        guild_id: int,
        user_id: int,
        ratings: dict[str, int],
        display_name: str | None,
        now: dt.datetime,
    ) -> Saved:
        claim_member(s, guild_id, user_id, display_name, now)  # a second save waits for this
        zone = s.scalar(
            select(Member.timezone).where(Member.guild_id == guild_id, Member.user_id == user_id)
        )
        today = local_today(now, zone)
        before = insights.latest_ratings(s, guild_id, user_id)
        day = (
            Assessment.guild_id == guild_id,
            Assessment.user_id == user_id,
            Assessment.taken_on == today,
        )
        replaced = s.execute(delete(Assessment).where(*day)).rowcount  # type: ignore[attr-defined]
        s.execute(
            delete(AssessmentRating).where(
                AssessmentRating.guild_id == guild_id,
                AssessmentRating.user_id == user_id,
                AssessmentRating.taken_on == today,
            )
        )
        s.execute(
            upsert(s, Assessment).values(
                guild_id=guild_id, user_id=user_id, taken_on=today, saved_at=now
            )
        )
        s.execute(
            upsert(s, AssessmentRating),
            [
                {
                    "guild_id": guild_id,
                    "user_id": user_id,
                    "taken_on": today,
                    "metric_id": metric_id,
                    "rating": rating,
                }
                for metric_id, rating in ratings.items()
            ],
        )
        last = (
            select(func.max(Assessment.taken_on))
            .where(Assessment.guild_id == guild_id, Assessment.user_id == user_id)
            .scalar_subquery()
        )
        s.execute(
            update(Member)
            .where(Member.guild_id == guild_id, Member.user_id == user_id)
            .values(last_assessed_on=last)
        )
        insights.ratings_changed(s, guild_id, before, insights.latest_ratings(s, guild_id, user_id))
        missing = tuple(m for m in self.roadmap.metrics if m.id not in ratings)
        groups = tuple(
            group
            for group, metrics in self.roadmap.metric_groups()
            if all(m.id not in ratings for m in metrics)
        )
        return Saved(today, bool(replaced), len(ratings), missing, groups)

    async def latest(self, guild_id: int, user_id: int) -> dict[str, Rating]:
        """The member's latest rating of each metric they rated (to show beside the menu)."""
        history = await self.history(guild_id, user_id)
        return {t.metric.id: t.latest for t in history.trends if t.latest is not None}

    async def ratings(self, guild_id: int, user_id: int) -> tuple[MetricRatings, ...]:
        """Each roadmap metric's ratings over time, oldest first (for the history chart)."""
        async with self.db.read() as s:
            by_metric = await self._ratings(s, guild_id, user_id)
        return tuple(
            MetricRatings(metric, tuple(by_metric.get(metric.id, ())))
            for metric in self.roadmap.metrics
        )

    async def history(self, guild_id: int, user_id: int) -> History:
        """Each metric's latest rating, the one before and the first, and how many."""
        async with self.db.read() as s:
            by_metric = await self._ratings(s, guild_id, user_id)
            count, first_on, last_on = (
                await s.execute(
                    select(
                        func.count(), func.min(Assessment.taken_on), func.max(Assessment.taken_on)
                    ).where(Assessment.guild_id == guild_id, Assessment.user_id == user_id)
                )
            ).one()
        trends = []
        for metric in self.roadmap.metrics:
            seen = by_metric.get(metric.id, [])
            trends.append(
                MetricTrend(
                    metric,
                    latest=seen[-1] if seen else None,
                    previous=seen[-2] if len(seen) > 1 else None,
                    first=seen[0] if seen else None,
                )
            )
        return History(user_id, int(count or 0), first_on, last_on, tuple(trends))

    @staticmethod
    async def _ratings(s: AsyncSession, guild_id: int, user_id: int) -> dict[str, list[Rating]]:
        """A member's ratings by metric id, oldest first."""
        rows = (
            await s.execute(
                select(
                    AssessmentRating.metric_id,
                    AssessmentRating.rating,
                    AssessmentRating.taken_on,
                )
                .where(
                    AssessmentRating.guild_id == guild_id,
                    AssessmentRating.user_id == user_id,
                )
                .order_by(AssessmentRating.taken_on)
            )
        ).all()
        by_metric: dict[str, list[Rating]] = {}
        for metric_id, rating, taken_on in rows:
            by_metric.setdefault(metric_id, []).append(Rating(rating, taken_on))
        return by_metric

    # -- the server's cadence --

    async def cadence(self, guild_id: int) -> int:
        """Every how many weeks members are reminded to assess themselves (0: never)."""
        async with self.db.read() as s:
            weeks = await s.scalar(
                select(GuildSettings.assess_every_weeks).where(GuildSettings.guild_id == guild_id)
            )
        return ASSESS_EVERY_WEEKS if weeks is None else int(weeks)

    async def set_cadence(self, guild_id: int, weeks: int) -> int:
        """Remind members every `weeks` weeks (0: never)."""
        if not 0 <= weeks <= ASSESS_EVERY_MAX_WEEKS:
            raise UserError(
                f"Pick 0 (never) to {ASSESS_EVERY_MAX_WEEKS} weeks; the default is "
                f"{ASSESS_EVERY_WEEKS}."
            )
        async with self.db.write.begin() as s:
            await save_settings(s, guild_id, {"assess_every_weeks": weeks}, self.clock.now())
        return weeks
