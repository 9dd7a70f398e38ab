"""Discord side effects of a level change: the announcement and the level roles."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

import discord

from bot.services.guilds import LevelRoleInfo
from bot.ui.render import level_name

if TYPE_CHECKING:
    from bot.bot import MilestoneBot

log = logging.getLogger(__name__)


class LevelChange(Protocol):
    """A change of a member's level: a completion, an undo, or a whole checklist."""

    @property
    def old_level(self) -> int: ...

    @property
    def new_level(self) -> int: ...

    @property
    def announce(self) -> tuple[int, ...]: ...


def role_problem(guild: discord.Guild, role: discord.Role | None) -> str | None:
    """Why the bot cannot give or take this role, or None when it can."""
    me = guild.me
    if role is None:
        return "the role was deleted: set another with /config level-role"
    if me is None:
        return "I cannot see my own member in this server yet"
    if not me.guild_permissions.manage_roles:
        return "I need the Manage Roles permission"
    if role >= me.top_role:
        return (
            f"the role {role.name} is not below my highest role ({me.top_role.name}): "
            "move my role above it in Server Settings → Roles"
        )
    if role.managed:
        return f"the role {role.name} is managed by an integration and cannot be given"
    return None


async def sync_member_roles(
    bot: MilestoneBot,
    guild: discord.Guild,
    member: discord.Member,
    level: int,
    roles: dict[int, LevelRoleInfo] | None = None,
) -> tuple[int, int]:
    """Give the roles of levels up to `level` and take the others; return (given, taken).

    `roles` are the server's level roles when the caller read them already.
    """
    if roles is None:
        roles = await bot.services.guilds.level_roles(guild.id)
    have = {r.id for r in member.roles}
    given = taken = 0
    for lvl, info in roles.items():
        wanted = lvl <= level
        if wanted == (info.role_id in have):
            continue
        role = guild.get_role(info.role_id)
        problem = role_problem(guild, role)
        if problem is None:
            try:
                if wanted:
                    await member.add_roles(
                        discord.Object(info.role_id), reason=f"Reached level {lvl}"
                    )
                    given += 1
                else:
                    await member.remove_roles(
                        discord.Object(info.role_id), reason=f"Below level {lvl}"
                    )
                    taken += 1
            except discord.Forbidden as exc:
                problem = f"Discord refused: {exc.text or 'Missing Permissions'}"
            except discord.NotFound:
                continue  # The member left; nothing to fix on the server's side.
        if problem is not None:
            log.warning("level role %s in guild %s: %s", lvl, guild.id, problem)
            await bot.services.guilds.record_role_error(guild.id, lvl, problem)
        elif info.last_error is not None:
            await bot.services.guilds.record_role_error(guild.id, lvl, None)
    return given, taken


async def apply_change(
    bot: MilestoneBot,
    guild: discord.Guild,
    member: discord.Member | discord.User,
    change: LevelChange,
    fallback_channel: discord.abc.Messageable | None,
) -> None:
    """Announce new levels once and bring the member's level roles in line."""
    if change.old_level == change.new_level:
        return
    setup = await bot.services.guilds.level_setup(guild.id)
    if isinstance(member, discord.Member):
        await sync_member_roles(bot, guild, member, change.new_level, setup.roles)
    if not change.announce:
        return
    channel_id = setup.announce_channel_id
    channel = guild.get_channel(channel_id) if channel_id else fallback_channel
    top = max(change.announce)
    if not isinstance(channel, discord.abc.Messageable):
        problem = "the announcement channel no longer exists: choose one with /config announce"
    else:
        text = f"🎉 {member.mention} reached **{level_name(bot.roadmap, top)}**! Keep going."
        try:
            await channel.send(text, allowed_mentions=discord.AllowedMentions(users=[member]))
            return
        except discord.HTTPException as exc:
            where = getattr(channel, "mention", "the channel")
            problem = f"Discord refused the post in {where}: {exc.text or exc.status}"
    log.warning("level-up announcement failed in guild %s: %s", guild.id, problem)
    await bot.services.guilds.record_error(guild.id, f"Could not announce a level-up: {problem}")
