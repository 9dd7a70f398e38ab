"""`/mydata export|delete`: a member's own data in this server."""

from __future__ import annotations

import contextlib
import io
import json

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import MilestoneBot
from bot.levelups import sync_member_roles
from bot.ui.views import Confirm


@app_commands.guild_only()
class MyData(commands.GroupCog, group_name="mydata"):
    """Export or delete what the bot keeps about you in this server."""

    def __init__(self, bot: MilestoneBot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name="export")
    async def export(self, interaction: discord.Interaction) -> None:
        """Send you a JSON file of everything the bot keeps about you in this server."""
        assert interaction.guild_id is not None
        data = await self.bot.services.mydata.export(interaction.guild_id, interaction.user.id)
        blob = json.dumps(data, indent=2, ensure_ascii=False).encode()
        file = discord.File(io.BytesIO(blob), filename=f"milestones-{interaction.guild_id}.json")
        await interaction.response.send_message(
            "Here is everything the bot keeps about you in this server.", file=file, ephemeral=True
        )

    @app_commands.command(name="delete")
    async def delete(self, interaction: discord.Interaction) -> None:
        """Delete everything the bot keeps about you in this server (asks first)."""
        assert interaction.guild is not None
        view = Confirm(
            interaction.user.id,
            "Delete my data",
            cancelled="Already cancelled: nothing was deleted.",
        )
        await interaction.response.send_message(
            "This deletes your progress, check-in answers, submissions for review and profile "
            "in this server, and takes your level roles. Reviews you made of others stay, "
            "without your name. It cannot be undone. Sure?",
            view=view,
            ephemeral=True,
        )
        choice = await view.decision()
        done = view.interaction
        if choice is None or done is None:
            await interaction.edit_original_response(
                content="Nothing was deleted (no answer in time).", view=None
            )
            return
        if not choice:
            await done.response.edit_message(content="Nothing was deleted.", view=None)
            return
        view.outcome = "Already confirmed: your data is being deleted."
        deleted = await self.bot.services.mydata.delete(interaction.guild.id, interaction.user.id)
        text = (
            f"Deleted: {deleted.completions} completed item(s), "
            f"{deleted.checkin_answers} check-in answer(s) and {deleted.review_submissions} "
            "submission(s) for review. Your profile is gone too."
        )
        view.outcome = f"Already done. {text}"
        await done.response.edit_message(content=text, view=None)
        for channel_id, message_id in deleted.review_posts:
            # The review channel's posts of their submissions carry their evidence.
            channel = self.bot.get_partial_messageable(channel_id, guild_id=interaction.guild.id)
            with contextlib.suppress(discord.HTTPException):
                await channel.get_partial_message(message_id).delete()
        if isinstance(interaction.user, discord.Member) and deleted.level:
            await sync_member_roles(self.bot, interaction.guild, interaction.user, 0)


async def setup(bot: MilestoneBot) -> None:
    """Load the cog."""
    await bot.add_cog(MyData(bot))
