"""`/projects [level]`: the roadmap's 15 projects by group, with the caller's done marks."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import MilestoneBot
from bot.defaults import LEVEL_COUNT
from bot.ui.options import LevelOption
from bot.ui.render import DONE, TODO, embed, item_line, level_name, lines_field


class Projects(commands.Cog):
    """The numbered projects the checklist names."""

    def __init__(self, bot: MilestoneBot) -> None:
        self.bot = bot

    @app_commands.command(name="projects")
    @app_commands.guild_only()
    @app_commands.describe(level=f"Only the projects of this level (1 to {LEVEL_COUNT})")
    async def projects(
        self, interaction: discord.Interaction, level: LevelOption | None = None
    ) -> None:
        """Show the roadmap's 15 projects by group, with your done marks."""
        assert interaction.guild_id is not None
        roadmap = self.bot.roadmap
        done = await self.bot.services.progress.done_ids(interaction.guild_id, interaction.user.id)
        shown = [p for p in roadmap.projects if level is None or p.level == level]
        count = sum(1 for p in shown if p.id in done)
        title = f"Projects of {level_name(roadmap, level)}" if level else "The 15 projects"
        e = embed(
            title,
            f"**{count}/{len(shown)}** done. A checklist item that names projects is done "
            "exactly when they all are: ticking it ticks them, ticking the last of them "
            "ticks it, undoing either undoes it.",
        )
        for group, projects in roadmap.project_groups():
            mine = [p for p in projects if p in shown]
            if not mine:
                continue
            numbers = (
                f"{mine[0].number}-{mine[-1].number}" if len(mine) > 1 else f"{mine[0].number}"
            )
            lines = [
                f"{DONE if p.id in done else TODO} **{p.number}** · {p.name} · level {p.level}"
                for p in mine
            ]
            e.add_field(name=f"{group} ({numbers})", value=lines_field(lines), inline=False)
        if level is not None:
            items = {p.checklist_id for p in shown}
            e.add_field(
                name="On the checklist",
                value=lines_field(
                    [item_line(i, done) for i in roadmap.checklist(level) if i.id in items]
                ),
                inline=False,
            )
        e.set_footer(text="Tick one with /milestone complete (type its name).")
        await interaction.response.send_message(embed=e, ephemeral=True)


async def setup(bot: MilestoneBot) -> None:
    """Load the cog."""
    await bot.add_cog(Projects(bot))
