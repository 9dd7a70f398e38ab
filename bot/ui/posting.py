"""Posting for scheduled jobs: a channel message or a DM, failures as readable reasons."""

from __future__ import annotations

import discord

from bot.scheduler import PublishError

DMS_CLOSED = 50007


def reason(exc: discord.HTTPException) -> str:
    """Why Discord refused, in a few words an admin can act on."""
    if isinstance(exc, discord.Forbidden):
        return f"Missing Permissions ({exc.status})"
    if isinstance(exc, discord.NotFound):
        return f"the channel no longer exists ({exc.status})"
    return f"Discord answered {exc.status}: {exc.text or 'error'}"


async def post(
    client: discord.Client,
    channel_id: int,
    guild_id: int,
    *,
    embed: discord.Embed,
    content: str | None = None,
    view: discord.ui.View | None = None,
    mention: list[discord.Object] | None = None,
    file: discord.File | None = None,
) -> discord.Message:
    """Post in a channel, pinging only `mention`; raise PublishError when refused.

    `file` is a picture `embed` shows: when the channel refuses it (no Attach Files), the
    embed is posted alone.
    """
    channel = client.get_partial_messageable(channel_id, guild_id=guild_id)
    allowed = discord.AllowedMentions(users=mention) if mention else discord.AllowedMentions.none()

    async def send(files: list[discord.File]) -> discord.Message:
        if view is None:
            return await channel.send(content, embed=embed, files=files, allowed_mentions=allowed)
        return await channel.send(
            content, embed=embed, files=files, view=view, allowed_mentions=allowed
        )

    try:
        if file is not None:
            try:
                return await send([file])
            except discord.Forbidden:
                embed.set_image(url=None)  # Perhaps no Attach Files: try the embed alone.
        return await send([])
    except discord.HTTPException as exc:
        raise PublishError(reason(exc)) from exc


async def direct_message(client: discord.Client, user_id: int, embed: discord.Embed) -> bool:
    """DM a member; False when their DMs are closed, PublishError for other refusals."""
    try:
        channel = await client.create_dm(discord.Object(user_id))
        await channel.send(embed=embed)
    except discord.Forbidden as exc:
        if exc.code == DMS_CLOSED:
            return False
        raise PublishError(reason(exc)) from exc
    except discord.HTTPException as exc:
        raise PublishError(reason(exc)) from exc
    return True
