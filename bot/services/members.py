"""A member's profile: journey start, timezone, leaderboard visibility, and pace."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import update

from bot.clock import Clock, SystemClock
from bot.db import Database
from bot.db.models import Member
from bot.errors import UserError
from bot.roadmap import Phase, Roadmap
from bot.services import scores
from bot.services.progress import touch_member
from bot.weekly import canonical_timezone, local_today


@dataclass(frozen=True)
class Profile:
    """What `/profile` shows."""

    user_id: int
    display_name: str
    started_on: dt.date | None
    timezone: str | None
    hidden: bool
    level: int = 0


@dataclass(frozen=True)
class Pace:
    """Where a member stands against the roadmap's months."""

    months: int
    phase: Phase
    expected_level: int
    verdict: str  # "ahead", "on track" or "behind"


def check_start_date(value: dt.date, today: dt.date) -> dt.date:
    """A journey start date is not in the future, nor before 1970."""
    if value > today:
        raise UserError("Your journey start date cannot be in the future.")
    if value.year < 1970:
        raise UserError("That start date is too far back: use the day you began this journey.")
    return value


def check_timezone(name: str) -> str:
    """A timezone must be a known IANA name."""
    canonical = canonical_timezone(name)
    if canonical is None:
        raise UserError(
            f"Unknown timezone '{name[:64]}': pick one from the list, e.g. Europe/Berlin"
        )
    return canonical


def months_between(start: dt.date, today: dt.date) -> int:
    """Whole months elapsed from `start` to `today`."""
    months = (today.year - start.year) * 12 + today.month - start.month
    if today.day < start.day:
        months -= 1
    return max(months, 0)


def pace(roadmap: Roadmap, started_on: dt.date, today: dt.date, level: int) -> Pace:
    """Compare a member's level with what the roadmap expects after their months so far.

    In the phase that starts at month 6, the roadmap expects level 1 reached and level 2
    under way: below 1 is behind, 2 or above is ahead. Every phase follows that shape.
    """
    months = months_between(started_on, today)
    phase = roadmap.phase_for_month(months)
    expected = phase.number - 1
    verdict = "behind" if level < expected else "ahead" if level > expected else "on track"
    return Pace(months, phase, expected, verdict)


class MemberService:
    """Reads and changes a member's profile."""

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self.db = db
        self.clock: Clock = clock or SystemClock()

    def today(self, timezone: str | None) -> dt.date:
        """Today on the bot's clock in a member's timezone (UTC when unset)."""
        return local_today(self.clock.now(), timezone)

    async def profile(self, guild_id: int, user_id: int) -> Profile:
        """The member's profile (defaults when they never set one)."""
        async with self.db.read() as s:
            member = await s.get(Member, (guild_id, user_id))
        if member is None:
            return Profile(user_id, "", None, None, False)
        return Profile(
            user_id,
            member.display_name,
            member.started_on,
            member.timezone,
            member.hidden,
            member.level,
        )

    async def update_profile(
        self,
        guild_id: int,
        user_id: int,
        *,
        display_name: str | None = None,
        started_on: dt.date | None = None,
        timezone: str | None = None,
        hidden: bool | None = None,
    ) -> Profile:
        """Change the given fields and return the new profile.

        The start date is checked against today in the member's (new) timezone.
        """
        values: dict[str, object] = {}
        if timezone is not None:
            values["timezone"] = check_timezone(timezone)
        if hidden is not None:
            values["hidden"] = hidden
        async with self.db.write.begin() as s:
            await s.run_sync(touch_member, guild_id, user_id, display_name, self.clock.now())
            member = await s.get(Member, (guild_id, user_id))
            assert member is not None
            if started_on is not None:
                zone = values.get("timezone", member.timezone)
                values["started_on"] = check_start_date(started_on, self.today(str(zone or "")))
            if hidden is not None and hidden != member.hidden:
                await s.run_sync(
                    scores.set_hidden, guild_id, user_id, hidden, member.completed_count
                )
            if values:
                await s.execute(
                    update(Member)
                    .where(Member.guild_id == guild_id, Member.user_id == user_id)
                    .values(**values)
                )
        return await self.profile(guild_id, user_id)

    async def touch(
        self, guild_id: int, user_id: int, display_name: str | None, *, stored: str | None = None
    ) -> None:
        """Remember a member's display name.

        `stored` is the name a read of the same interaction found: when it is the same, the
        write would change nothing and is skipped.
        """
        if stored is not None and display_name is not None and stored == display_name[:100]:
            return
        await self.db.run_fast_write(
            touch_member, guild_id, user_id, display_name, self.clock.now()
        )
