"""Ephemeral replies and the one way errors reach users, for commands and components alike.

`user_message` says, for every kind of error, what the user can do; `handle_error` is what the
command tree's `on_error`, `SafeView` and `SafeModal` call. ERROR is logged only for the bot's
own faults; a missing permission of the bot or a busy database is a WARNING, an error the
user can fix is not logged at all.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import discord
from discord import app_commands
from sqlalchemy.exc import OperationalError

from bot import inflight
from bot.errors import UserError
from bot.text import clean_text
from bot.ui.deferral import GuardedResponse, watch

log = logging.getLogger(__name__)

SORRY = (
    "Something went wrong on our side. It has been logged (reference `{ref}`); "
    "please try again in a moment."
)
IN_A_SERVER = "Use this in a server: progress is kept per server."
_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def reference(interaction: discord.Interaction) -> str:
    """A short code for an interaction that an admin can find in the log."""
    number, code = interaction.id, ""
    while number and len(code) < 6:
        number, digit = divmod(number, 36)
        code = _DIGITS[digit] + code
    return code or "0"


def options_of(interaction: discord.Interaction) -> str:
    """The options or component values of an interaction, for the log: "member=1 time=18:00"."""
    data: dict[str, Any] = dict(interaction.data or {})
    if "custom_id" in data:
        values = data.get("values")
        return f"custom_id={data['custom_id']}" + (f" values={values}" if values else "")
    parts: list[str] = []

    def walk(options: list[dict[str, Any]]) -> None:
        for option in options:
            if "options" in option:
                walk(option["options"])
            elif "value" in option:
                parts.append(f"{option['name']}={str(option['value'])[:100]!r}")

    walk(list(data.get("options") or []))
    return " ".join(parts) or "-"


async def reply(interaction: discord.Interaction, text: str) -> None:
    """Answer ephemerally: the first answer, the deferred answer filled in, or a followup."""
    try:
        response = interaction.response
        if isinstance(response, GuardedResponse):
            await response.send(text, ephemeral=True)
        elif response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await response.send_message(text, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not deliver a reply (interaction %s)", interaction.id)


def permission_names(names: list[str]) -> str:
    """["manage_guild", "embed_links"] as "Manage Server, Embed Links"."""
    return ", ".join(n.replace("guild", "server").replace("_", " ").title() for n in names)


def _who(value: Any) -> str:
    name = getattr(value, "display_name", None) or str(value)
    return discord.utils.escape_markdown(clean_text(name))[:100]


def user_message(error: Exception) -> str | None:
    """What to tell the user about an error, or None for a bug of ours."""
    original = getattr(error, "original", error)
    if isinstance(original, UserError):
        return original.message
    if isinstance(error, app_commands.TransformerError):
        if error.type is discord.AppCommandOptionType.user:
            return (
                f"**{_who(error.value)}** is not a member of this server (any more): "
                "pick someone who is."
            )
        if error.type is discord.AppCommandOptionType.channel:
            return "I cannot use that channel for this: pick a text channel of this server."
        return (
            f"I could not read `{clean_text(str(error.value))[:80]}` for that option: "
            "pick one of the suggestions, or check how it is written."
        )
    if isinstance(error, app_commands.NoPrivateMessage):
        return IN_A_SERVER
    if isinstance(error, app_commands.MissingPermissions):
        names = permission_names(error.missing_permissions)
        return f"You need the {names} permission for this: ask a server admin."
    if isinstance(error, app_commands.BotMissingPermissions):
        names = permission_names(error.missing_permissions)
        return f"I need the {names} permission here for this: ask a server admin to give it me."
    if isinstance(error, app_commands.MissingRole | app_commands.MissingAnyRole):
        return "You need a role you do not have for this: ask a server admin."
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little: try again in {math.ceil(error.retry_after)} s."
    if isinstance(error, app_commands.CheckFailure):
        return "You cannot use this command here."
    if isinstance(error, app_commands.CommandNotFound | app_commands.CommandSignatureMismatch):
        return (
            "This command changed since your Discord app loaded it: reload Discord "
            "(Ctrl+R, or restart the app) and try again."
        )
    if isinstance(original, discord.Forbidden):
        return (
            f"Discord did not let me do that here ({original.text or 'Missing Permissions'}): "
            "ask a server admin to check my role's permissions in this channel."
        )
    if _database_busy(original):
        return (
            "The bot's database is busy right now (a backup or maintenance): nothing was "
            "changed. Please try again in a minute."
        )
    return None


def _database_busy(error: BaseException) -> bool:
    return isinstance(error, OperationalError) and "locked" in str(error.orig)


def _not_our_fault(error: Exception) -> bool:
    """Errors of the server's setup or the machine, not the user's and not a bug: WARNING."""
    original = getattr(error, "original", error)
    setup = (
        app_commands.BotMissingPermissions,
        app_commands.CommandSignatureMismatch,
        app_commands.CommandNotFound,
    )
    return (
        isinstance(error, setup)
        or isinstance(original, discord.Forbidden)
        or _database_busy(original)
    )


async def handle_error(interaction: discord.Interaction, error: Exception, where: str) -> None:
    """Tell the user what to do, or log the bug with context and apologise with a reference."""
    message = user_message(error)
    context = (
        f"interaction={interaction.id} guild={interaction.guild_id} "
        f"channel={interaction.channel_id} user={interaction.user.id} "
        f"options: {options_of(interaction)}"
    )
    if message is None:
        ref = reference(interaction)
        log.error(
            "%s failed (ref %s, %s)",
            where,
            ref,
            context,
            exc_info=getattr(error, "original", error),
        )
        message = SORRY.format(ref=ref)
    elif _not_our_fault(error):
        original = getattr(error, "original", error)
        log.warning("%s: %s: %s (%s)", where, type(original).__name__, original, context)
    await reply(interaction, message)


class SafeView(discord.ui.View):
    """A view whose clicks are answered in time and whose errors reach the user like a
    command's. Subclasses that override `interaction_check` call this one first."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        watch(interaction)
        # A stop waits for the click; once it has begun, the click is answered "restarting".
        return await inflight.admit(interaction)

    async def on_error(
        self,
        interaction: discord.Interaction,
        error: Exception,
        item: discord.ui.Item[discord.ui.View],
    ) -> None:
        custom_id = getattr(item, "custom_id", None)
        await handle_error(interaction, error, f"component {custom_id or type(item).__name__}")


class SafeModal(discord.ui.Modal):
    """A form whose submissions are answered in time and whose errors reach the user.
    Subclasses that override `interaction_check` call this one first."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        watch(interaction)
        # A stop waits for the answer; once it has begun, the form is answered "restarting".
        return await inflight.admit(interaction)

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction, error: Exception
    ) -> None:
        await handle_error(interaction, error, f"form {type(self).__name__}")
