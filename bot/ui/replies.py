"""Ephemeral replies and the one way errors reach users, for commands and components alike."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from bot import inflight
from bot.errors import UserError

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
    """Answer ephemerally, whether or not the interaction was answered already."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not deliver a reply (interaction %s)", interaction.id)


def user_message(error: Exception) -> str | None:
    """What to tell the user about an error they can fix, or None for a bug of ours."""
    original = getattr(error, "original", error)
    if isinstance(original, UserError):
        return original.message
    if isinstance(error, app_commands.NoPrivateMessage):
        return IN_A_SERVER
    if isinstance(error, app_commands.MissingPermissions):
        return "You need the Manage Server permission for this: ask a server admin."
    if isinstance(error, app_commands.CheckFailure):
        return "You cannot use this command here."
    return None


async def handle_error(interaction: discord.Interaction, error: Exception, where: str) -> None:
    """Tell the user what to do, or log the bug with context and apologise with a reference."""
    message = user_message(error)
    if message is None:
        ref = reference(interaction)
        log.error(
            "%s failed (ref %s, interaction=%s guild=%s channel=%s user=%s options: %s)",
            where,
            ref,
            interaction.id,
            interaction.guild_id,
            interaction.channel_id,
            interaction.user.id,
            options_of(interaction),
            exc_info=getattr(error, "original", error),
        )
        message = SORRY.format(ref=ref)
    await reply(interaction, message)


class SafeView(discord.ui.View):
    """A view whose callbacks' errors reach the user like a command's do."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
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
