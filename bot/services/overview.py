"""What `/progress` shows, read in one unit of work: progress, rank, check-in streak,
submissions awaiting review and whether the answer carries a picture."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.clock import Clock, SystemClock
from bot.db import Database, Executes
from bot.db.models import Member
from bot.services.checkins import ANY_CYCLE, streak_of
from bot.services.guilds import SERVER_CARDS, cards_from, read_cards_on
from bot.services.leaderboard import rank_of
from bot.services.progress import MEMBER_ROW, MemberProgress, ProgressService
from bot.services.reviews import ANY_PENDING, ReviewService, Submission


@dataclass(frozen=True)
class ProgressOverview:
    """A member's progress with their all-time rank, check-in streak and pending reviews;
    `cards`: whether the viewer's answer carries a picture (the server's and their switch)."""

    progress: MemberProgress
    rank: int | None
    streak: int
    pending: tuple[Submission, ...]
    cards: bool


class OverviewService:
    """Reads what several services know about one member in a single round trip."""

    def __init__(
        self,
        db: Database,
        progress: ProgressService,
        reviews: ReviewService,
        clock: Clock | None = None,
    ):
        self.db = db
        self.progress = progress
        self.reviews = reviews
        self.clock: Clock = clock or SystemClock()

    async def progress_overview(
        self, guild_id: int, user_id: int, viewer: int | None = None
    ) -> ProgressOverview:
        """Progress, rank, streak and pending reviews of a member, as of now; `cards` for
        `viewer` (default: the member)."""
        viewer = user_id if viewer is None else viewer
        now = self.clock.now()
        return await self.db.run_fast_read(self._read, guild_id, user_id, viewer, now)

    def _read(
        self, s: Executes, guild_id: int, user_id: int, viewer: int, now: dt.datetime
    ) -> ProgressOverview:
        key = {"guild": guild_id, "user": user_id}
        row = s.execute(_OVERVIEW, key).one_or_none()
        p = self.progress.progress_of(s, guild_id, user_id, row)
        if row is None:  # no row yet: read each part as it is
            streak = streak_of(s, guild_id, user_id, now)
            pending = self.reviews.read_pending(s, guild_id, user_id)
        else:  # what the row says is not there is not read
            streak = streak_of(s, guild_id, user_id, now) if row.any_cycle else 0
            pending = self.reviews.read_pending(s, guild_id, user_id) if row.any_pending else ()
        if row is not None and viewer == user_id:
            cards = cards_from(row.server_cards, row.own_cards)
        else:
            cards = read_cards_on(s, guild_id, viewer)
        return ProgressOverview(
            p,
            rank_of(s, guild_id, user_id, p.hidden, p.completed_count, p.last_completed_at),
            streak,
            pending,
            cards,
        )


# The member's row with what tells which other reads `/progress` needs: the pictures
# switches, whether the server has check-ins and whether the member awaits a review.
_members = Member.__table__.c
_OVERVIEW = MEMBER_ROW.add_columns(
    _members.cards.label("own_cards"),
    SERVER_CARDS.label("server_cards"),
    ANY_CYCLE.label("any_cycle"),
    ANY_PENDING.label("any_pending"),
)
