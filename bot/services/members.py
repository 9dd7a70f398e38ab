"""A member's profile: journey start, timezone, leaderboard visibility, pictures, and pace."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import bindparam, select, update

from bot.clock import Clock, SystemClock
from bot.db import Database, Executes
from bot.db.models import Member
from bot.defaults import CARDS
from bot.errors import UserError
from bot.roadmap import Phase, Roadmap
from bot.services import insights, scores
from bot.services.progress import claim_member, member_name, touch_member
from bot.weekly import canonical_timezone, local_today, months_between

MAX_AVATAR_PATH = 160  # the column's length


@dataclass(frozen=True)
class Profile:
    """What `/profile` shows."""

    user_id: int
    display_name: str
    started_on: dt.date | None
    timezone: str | None
    hidden: bool
    level: int = 0
    cards: bool = CARDS


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
            member.cards,
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
        cards: bool | None = None,
    ) -> Profile:
        """Change the given fields and return the new profile.

        The start date is checked against today in the member's (new) timezone.
        """
        values: dict[str, object] = {}
        if timezone is not None:
            values["timezone"] = check_timezone(timezone)
        if hidden is not None:
            values["hidden"] = hidden
        if cards is not None:
            values["cards"] = cards
        async with self.db.write.begin() as s:
            # Locked first: the counts moved below are the ones stored.
            await s.run_sync(claim_member, guild_id, user_id, display_name, self.clock.now())
            member = await s.get(Member, (guild_id, user_id))
            assert member is not None
            if started_on is not None:
                zone = values.get("timezone", member.timezone)
                values["started_on"] = check_start_date(started_on, self.today(str(zone or "")))
                await s.run_sync(insights.start_changing, guild_id, user_id, started_on)
            if hidden is not None and hidden != member.hidden:
                await s.run_sync(
                    scores.set_hidden,
                    guild_id,
                    user_id,
                    hidden,
                    (member.completed_count, member.last_completed_at),
                )
                await s.run_sync(insights.hidden_changed, guild_id, user_id, hidden)
            if values:
                await s.execute(
                    update(Member)
                    .where(Member.guild_id == guild_id, Member.user_id == user_id)
                    .values(**values)
                )
        return await self.profile(guild_id, user_id)

    async def remember(
        self,
        guild_id: int,
        user_id: int,
        display_name: str | None,
        *,
        avatar_path: str | None = None,
        known: tuple[str, str | None] | None = None,
    ) -> bool:
        """Store a member's display name and, when given, avatar, only where they changed.

        `avatar_path` is the CDN path of the avatar Discord shows now ("" for the default
        one); None leaves the stored one as it is. `known` is the (name, avatar path) the
        caller has read already (("", None) for no row), else they are read here. Reads
        never wait on the write lock, so a read-only command calls this after answering, and
        most calls write nothing at all. Returns whether it wrote.
        """
        name = member_name(display_name)
        avatar = None if avatar_path is None else stored_avatar(avatar_path)
        if known is None:
            known = await self.db.run_fast_read(stored_looks, guild_id, user_id)
        new_name = bool(name) and name != known[0]
        new_avatar = avatar_path is not None and avatar != known[1]
        if not (new_name or new_avatar):
            return False
        now = self.clock.now()
        await self.db.run_fast_write(_store_looks, guild_id, user_id, name, new_avatar, avatar, now)
        return True


def stored_avatar(avatar_path: str) -> str | None:
    """An avatar's CDN path as stored: None for the default avatar (or an odd, long path)."""
    return avatar_path if 0 < len(avatar_path) <= MAX_AVATAR_PATH else None


_m = Member.__table__.c
_KEY = (_m.guild_id == bindparam("guild"), _m.user_id == bindparam("user"))
_LOOKS = select(_m.display_name, _m.avatar_path).where(*_KEY)
_SET_AVATAR = update(Member).where(*_KEY).values(avatar_path=bindparam("avatar"))


def stored_looks(s: Executes, guild_id: int, user_id: int) -> tuple[str, str | None]:
    """The (display name, avatar path) stored for a member; ("", None) without a row."""
    row = s.execute(_LOOKS, {"guild": guild_id, "user": user_id}).one_or_none()
    return ("", None) if row is None else (row.display_name, row.avatar_path)


def _store_looks(
    s: Executes,
    guild_id: int,
    user_id: int,
    name: str,
    set_avatar: bool,
    avatar: str | None,
    now: dt.datetime,
) -> None:
    touch_member(s, guild_id, user_id, name or None, now)
    if set_avatar:
        s.execute(_SET_AVATAR, {"guild": guild_id, "user": user_id, "avatar": avatar})
