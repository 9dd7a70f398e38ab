"""`/assess rate|history`: rate yourself on the roadmap's metrics and see the trend."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import MilestoneBot
from bot.errors import UserError
from bot.services.assessments import Saved
from bot.ui.cards import CardRenderer
from bot.ui.pictures import assessment_chart, files, picture
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
        guild_id = interaction.guild_id
        history = await self.assessments.history(guild_id, who.id)
        e = history_embed(f"Self-assessment of {who.display_name}", history)
        if history.assessments == 0 and who.id != interaction.user.id:
            e.description = f"{who.display_name} has not rated themselves yet."
        cards = self.bot.cards if history.assessments else None  # none yet: no chart of them
        if cards is not None and not await self.bot.services.guilds.cards_on(
            guild_id, interaction.user.id
        ):
            cards = None
        if cards is None:
            await interaction.response.send_message(embed=e, ephemeral=True)
            return
        # The embed is the text version; the chart goes with it unless it cannot be had.
        await interaction.response.defer(ephemeral=True, thinking=True)

        async def draw_chart(renderer: CardRenderer) -> bytes:
            metrics = await self.assessments.ratings(guild_id, who.id)
            return await renderer.assessment(assessment_chart(who.id, who.display_name, metrics))

        file = await picture(draw_chart(cards), e, "assessment.png")
        await interaction.followup.send(embed=e, files=files(file), ephemeral=True)
