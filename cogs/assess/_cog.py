"""`/assess rate|history`: rate yourself on the roadmap's metrics and see the trend."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import MilestoneBot
from bot.errors import UserError
from bot.services.assessments import Saved
from cogs.assess._views import AssessmentFlow, history_embed


@app_commands.guild_only()
class Assess(commands.GroupCog, group_name="assess"):
    """Self-assessment against the roadmap's "Measuring Progress" metrics."""

    def __init__(self, bot: MilestoneBot) -> None:
        self.bot = bot
        self.assessments = bot.services.assessments
        super().__init__()

    @app_commands.command(name="rate")
    async def rate(self, interaction: discord.Interaction) -> None:
        """Rate yourself from 1 to 5 on the roadmap's 15 progress metrics (any can be skipped)."""
        assert interaction.guild_id is not None
        guild_id, user = interaction.guild_id, interaction.user
        previous = await self.assessments.latest(guild_id, user.id)

        async def save(ratings: dict[str, int]) -> Saved:
            return await self.assessments.save(
                guild_id, user.id, ratings, display_name=user.display_name
            )

        view = AssessmentFlow(user.id, self.bot.roadmap.metrics, previous, save)
        await interaction.response.send_message(embed=view.page(), view=view, ephemeral=True)
        view.message = await interaction.original_response()

    @app_commands.command(name="history")
    @app_commands.describe(member="Whose self-assessment to show (default: you)")
    async def history(
        self, interaction: discord.Interaction, member: discord.Member | None = None
    ) -> None:
        """Show each metric's latest rating against the previous one and the first."""
        assert interaction.guild_id is not None
        who = member or interaction.user
        if who.id != interaction.user.id:
            profile = await self.bot.services.members.profile(interaction.guild_id, who.id)
            if profile.hidden:
                raise UserError(
                    f"{who.display_name} is hidden from the leaderboards, so their "
                    "self-assessment is private."
                )
        history = await self.assessments.history(interaction.guild_id, who.id)
        e = history_embed(f"Self-assessment of {who.display_name}", history)
        if history.assessments == 0 and who.id != interaction.user.id:
            e.description = f"{who.display_name} has not rated themselves yet."
        await interaction.response.send_message(embed=e, ephemeral=True)
