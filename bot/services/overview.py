"""What `/progress` shows, read in one unit of work: progress, rank and check-in streak."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.clock import Clock, SystemClock
from bot.db import Database, Executes
from bot.services.checkins import streak_of
from bot.services.leaderboard import rank_of
from bot.services.progress import MemberProgress, ProgressService


@dataclass(frozen=True)
class ProgressOverview:
    """A member's progress with their all-time rank and check-in streak."""

    progress: MemberProgress
    rank: int | None
    streak: int


class OverviewService:
    """Reads what several services know about one member in a single round trip."""

    def __init__(self, db: Database, progress: ProgressService, clock: Clock | None = None):
        self.db = db
        self.progress = progress
        self.clock: Clock = clock or SystemClock()

    async def progress_overview(self, guild_id: int, user_id: int) -> ProgressOverview:
        """Progress, rank and streak of a member, as of now."""
        return await self.db.run_fast_read(self._read, guild_id, user_id, self.clock.now())

    def _read(self, s: Executes, guild_id: int, user_id: int, now: dt.datetime) -> ProgressOverview:
        p = self.progress.read_progress(s, guild_id, user_id)
        rank = rank_of(s, guild_id, user_id, p.hidden, p.completed_count, p.last_completed_at)
        return ProgressOverview(p, rank, streak_of(s, guild_id, user_id, now))
