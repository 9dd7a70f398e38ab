"""Server settings an admin changes: announcements, threshold, level roles, audit log."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock, SystemClock
from bot.db import Database, Executes, upsert
from bot.db.models import AuditEntry, GuildSettings, LevelRole, Member
from bot.defaults import CARDS, LEVEL_THRESHOLD, TIMEZONE
from bot.errors import UserError


@dataclass(frozen=True)
class LevelRoleInfo:
    """A configured level role and the last problem managing it."""

    level: int
    role_id: int
    configured_by: int
    last_error: str | None
    last_error_at: dt.datetime | None


@dataclass(frozen=True)
class AuditInfo:
    """One admin correction or review decision; actor None: a reviewer who left no name."""

    actor_id: int | None
    member_id: int
    item_id: str
    action: str
    created_at: dt.datetime


@dataclass(frozen=True)
class GuildConfig:
    """Every setting of a server, as `/config show` lists them."""

    guild_id: int
    timezone: str | None
    level_threshold: int
    announce_channel_id: int | None
    level_roles: tuple[LevelRoleInfo, ...]
    recent_audit: tuple[AuditInfo, ...]
    last_error: str | None
    last_error_at: dt.datetime | None
    cards: bool = CARDS


_settings = GuildSettings.__table__.c


_members = Member.__table__.c


def _setting(column: Any) -> Any:
    """One of the server's settings as a column for other reads (NULL without a row)."""
    return select(column).where(_settings.guild_id == bindparam("guild")).scalar_subquery()


SERVER_CARDS = _setting(_settings.cards)
SERVER_TIMEZONE = _setting(_settings.timezone)  # NULL too when unset: see `server_zone`
SERVER_THRESHOLD = _setting(_settings.level_threshold)  # LEVEL_THRESHOLD without a row


# The server's timezone and threshold: always one row, NULLs without a settings row.
_BASICS = select(SERVER_TIMEZONE, SERVER_THRESHOLD)


def server_zone(timezone: str | None) -> ZoneInfo:
    """The zone of a server's stored timezone (UTC when unset)."""
    return ZoneInfo(timezone or TIMEZONE)


def server_basics(timezone: str | None, threshold: int | None) -> tuple[ZoneInfo, int]:
    """The server's zone and level threshold from their stored values (NULL: the default)."""
    return server_zone(timezone), LEVEL_THRESHOLD if threshold is None else threshold


# The server's switch and the member's (user 0: none), NULL where there is no row.
_CARDS = select(
    SERVER_CARDS,
    select(_members.cards)
    .where(_members.guild_id == bindparam("guild"), _members.user_id == bindparam("user"))
    .scalar_subquery(),
)


def read_cards_on(s: Executes, guild_id: int, user_id: int | None) -> bool:
    """`GuildService.cards_on` inside a unit of work (one statement)."""
    server, member = s.execute(_CARDS, {"guild": guild_id, "user": user_id or 0}).one()
    return cards_from(server, *(() if user_id is None else (member,)))


def cards_from(*switches: bool | None) -> bool:
    """Whether an answer carries a picture, from the server's switch and the member's
    (None: never set, the default)."""
    return all(CARDS if value is None else bool(value) for value in switches)


_roles = LevelRole.__table__.c
_LEVEL_ROLES = (
    select(
        _roles.level, _roles.role_id, _roles.configured_by, _roles.last_error, _roles.last_error_at
    )
    .where(_roles.guild_id == bindparam("guild"))
    .order_by(_roles.level)
)
_ANNOUNCE = select(_settings.announce_channel_id).where(_settings.guild_id == bindparam("guild"))


@dataclass(frozen=True)
class LevelSetup:
    """A server's level roles (by level) and its announcement channel, if chosen."""

    roles: dict[int, LevelRoleInfo]
    announce_channel_id: int | None


def _level_setup(s: Executes, guild_id: int) -> LevelSetup:
    key = {"guild": guild_id}
    roles = {row.level: LevelRoleInfo(*row) for row in s.execute(_LEVEL_ROLES, key).all()}
    return LevelSetup(roles, s.execute(_ANNOUNCE, key).scalar_one_or_none())


def guild_basics(s: Executes, guild_id: int) -> tuple[ZoneInfo, int]:
    """The server's timezone (UTC when unset) and level threshold, in one read."""
    timezone, threshold = s.execute(_BASICS, {"guild": guild_id}).one()
    return server_basics(timezone, threshold)


async def save_settings(
    s: AsyncSession, guild_id: int, values: dict[str, object], now: dt.datetime
) -> None:
    """Create or update the server's settings row with `values`."""
    await s.execute(
        upsert(s, GuildSettings)
        .values(guild_id=guild_id, updated_at=now, **values)
        .on_conflict_do_update(index_elements=["guild_id"], set_={**values, "updated_at": now})
    )


class GuildService:
    """Reads and changes one server's settings."""

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self.db = db
        self.clock: Clock = clock or SystemClock()
        # What a level change reads (level roles, announcement channel), per server, kept
        # until this service changes it: a server's settings change only through the one
        # process that owns it. The count of changes spots a read racing a change.
        self._setups: dict[int, LevelSetup] = {}
        self._changes: dict[int, int] = {}

    def _changed(self, guild_id: int) -> None:
        self._changes[guild_id] = self._changes.get(guild_id, 0) + 1
        self._setups.pop(guild_id, None)

    async def _set(self, guild_id: int, **values: object) -> None:
        async with self.db.write.begin() as s:
            await save_settings(s, guild_id, values, self.clock.now())

    async def record_error(self, guild_id: int, text: str) -> None:
        """Remember the last problem of a server, for admins to see in `/config show`."""
        now = self.clock.now()
        async with self.db.write.begin() as s:
            await save_settings(s, guild_id, {"last_error": text[:500], "last_error_at": now}, now)

    async def set_announce_channel(self, guild_id: int, channel_id: int | None) -> None:
        """Post level-ups in this channel (None: where they happen)."""
        await self._set(guild_id, announce_channel_id=channel_id)
        self._changed(guild_id)

    async def set_threshold(self, guild_id: int, percent: int) -> None:
        """Set the share of each level's checklist needed to reach it."""
        if not 1 <= percent <= 100:
            raise UserError("The threshold is a percentage from 1 to 100.")
        await self._set(guild_id, level_threshold=percent)

    async def set_cards(self, guild_id: int, on: bool) -> None:
        """Turn pictures (cards and charts) on or off for the whole server."""
        await self._set(guild_id, cards=on)

    async def cards_on(self, guild_id: int, user_id: int | None = None) -> bool:
        """Whether answers carry pictures: the server's switch and, given a member, theirs.

        One round trip; a server or member without a row has the default.
        """
        return await self.db.run_fast_read(read_cards_on, guild_id, user_id)

    async def level_setup(self, guild_id: int) -> LevelSetup:
        """What a level change needs to know, in one read: level roles, announcements."""
        found = self._setups.get(guild_id)
        if found is not None:
            return found
        changes = self._changes.get(guild_id, 0)
        setup = await self.db.run_fast_read(_level_setup, guild_id)
        if self._changes.get(guild_id, 0) == changes:
            self._setups[guild_id] = setup
        return setup

    async def set_level_role(self, guild_id: int, level: int, role_id: int, admin_id: int) -> None:
        """Give `role_id` to members who reach `level`."""
        async with self.db.write.begin() as s:
            await s.execute(
                upsert(s, LevelRole)
                .values(guild_id=guild_id, level=level, role_id=role_id, configured_by=admin_id)
                .on_conflict_do_update(
                    index_elements=["guild_id", "level"],
                    set_={
                        "role_id": role_id,
                        "configured_by": admin_id,
                        "last_error": None,
                        "last_error_at": None,
                    },
                )
            )
        self._changed(guild_id)

    async def clear_level_role(self, guild_id: int, level: int) -> int | None:
        """Stop giving a level's role; return the role id that was set, if any."""
        async with self.db.write.begin() as s:
            role_id = await s.scalar(
                select(LevelRole.role_id).where(
                    LevelRole.guild_id == guild_id, LevelRole.level == level
                )
            )
            await s.execute(
                delete(LevelRole).where(LevelRole.guild_id == guild_id, LevelRole.level == level)
            )
        self._changed(guild_id)
        return role_id

    async def level_roles(self, guild_id: int) -> dict[int, LevelRoleInfo]:
        """The configured level roles, by level."""
        return (await self.level_setup(guild_id)).roles

    async def record_role_error(self, guild_id: int, level: int, error: str | None) -> None:
        """Remember (or clear, with None) why a level role could not be managed."""
        async with self.db.write.begin() as s:
            await s.execute(
                update(LevelRole)
                .where(LevelRole.guild_id == guild_id, LevelRole.level == level)
                .values(last_error=error, last_error_at=self.clock.now() if error else None)
            )
        self._changed(guild_id)

    async def config(self, guild_id: int, *, audit_limit: int = 10) -> GuildConfig:
        """Everything `/config show` lists."""
        roles = await self.level_roles(guild_id)
        async with self.db.read() as s:
            settings = await s.get(GuildSettings, guild_id)
            audit = (
                await s.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.guild_id == guild_id)
                    .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
                    .limit(audit_limit)
                )
            ).all()
        return GuildConfig(
            guild_id=guild_id,
            timezone=settings.timezone if settings else None,
            level_threshold=settings.level_threshold if settings else LEVEL_THRESHOLD,
            announce_channel_id=settings.announce_channel_id if settings else None,
            level_roles=tuple(roles.values()),
            recent_audit=tuple(
                AuditInfo(a.actor_id, a.member_id, a.item_id, a.action, a.created_at) for a in audit
            ),
            last_error=settings.last_error if settings else None,
            last_error_at=settings.last_error_at if settings else None,
            cards=settings.cards if settings else CARDS,
        )
