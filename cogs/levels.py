"""The ladder: `/levels`, `/level` and `/roadmap`."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import MilestoneBot
from bot.defaults import LEVEL_COUNT
from bot.roadmap import CATEGORY_LABELS, MILESTONE_CATEGORIES
from bot.services.members import pace
from bot.ui.options import LevelOption
from bot.ui.render import SUBMITTED, bar, embed, item_line, level_name, lines_field
from bot.ui.texts import pace_text


class Levels(commands.Cog):
    """Browse the five levels and the role-transition roadmap."""

    def __init__(self, bot: MilestoneBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="levels",
        description=f"Show the ladder from level 0 to {LEVEL_COUNT} and where you stand on it",
    )
    @app_commands.guild_only()
    async def levels(self, interaction: discord.Interaction) -> None:
        """Show the ladder and where you stand on it."""
        assert interaction.guild_id is not None
        roadmap = self.bot.roadmap
        progress = await self.bot.services.progress.member_progress(
            interaction.guild_id,
            interaction.user.id,
            recent=0,  # the ladder shows none
        )
        lines = []
        for lvl in range(len(roadmap.levels) + 1):
            months = roadmap.level(lvl).months_label if lvl else "start"
            here = " ◀ **you are here**" if lvl == progress.level else ""
            lines.append(f"**{lvl}** · {roadmap.level_title(lvl)} ({months}){here}")
        e = embed("The ladder", "\n".join(lines))
        if progress.level < len(roadmap.levels):
            nxt = progress.levels[progress.level]
            e.add_field(
                name=f"Into {level_name(roadmap, nxt.number)}",
                value=f"Checklist {bar(nxt.checklist_done, nxt.checklist_total)}\n"
                f"Milestones {bar(nxt.milestones_done, nxt.milestones_total)}\n"
                f"See it in full with `/level level:{nxt.number}`.",
                inline=False,
            )
        else:
            e.add_field(name="Top of the ladder", value="You reached the last level. 🏆")
        await interaction.response.send_message(embed=e, ephemeral=True)

    @app_commands.command(name="level")
    @app_commands.guild_only()
    @app_commands.describe(level=f"Which level to show, 1 to {LEVEL_COUNT}")
    async def level(self, interaction: discord.Interaction, level: LevelOption) -> None:
        """Show one level in full, with your done and not-done items."""
        assert interaction.guild_id is not None
        roadmap = self.bot.roadmap
        lvl = roadmap.level(level)
        done = await self.bot.services.progress.done_ids(interaction.guild_id, interaction.user.id)
        pending = await self.bot.services.reviews.pending(interaction.guild_id, interaction.user.id)
        submitted = {p.item.id for p in pending}
        phase = roadmap.phases[level - 1]
        e = embed(
            level_name(roadmap, level),
            f"**{lvl.transition_from} → {lvl.transition_to}** · {lvl.months_label}\n"
            f"**Focus:** {phase.focus}",
        )
        e.add_field(
            name="Key transition activities",
            value=lines_field([f"• {a}" for a in phase.activities]),
            inline=False,
        )
        for category in MILESTONE_CATEGORIES:
            items = lvl.milestones[category]
            count = sum(1 for i in items if i.id in done)
            e.add_field(
                name=f"{CATEGORY_LABELS[category]} ({count}/{len(items)})",
                value=lines_field([item_line(i, done, submitted=submitted) for i in items]),
                inline=False,
            )
        count = sum(1 for i in lvl.checklist if i.id in done)
        e.add_field(
            name=f"Checklist ({count}/{len(lvl.checklist)}): gates the level",
            value=lines_field([item_line(i, done, submitted=submitted) for i in lvl.checklist]),
            inline=False,
        )
        footer = "Tick items with /milestone complete or /milestone checklist."
        if any(i.id in submitted for i in lvl.items):
            footer = f"{SUBMITTED} awaiting review · {footer}"
        e.set_footer(text=footer)
        await interaction.response.send_message(embed=e, ephemeral=True)

    @app_commands.command(name="roadmap")
    @app_commands.guild_only()
    async def roadmap(self, interaction: discord.Interaction) -> None:
        """Show the role-transition phases and whether you are ahead or behind."""
        assert interaction.guild_id is not None
        roadmap = self.bot.roadmap
        members = self.bot.services.members
        profile = await members.profile(interaction.guild_id, interaction.user.id)
        current = None
        verdict = "Set your start date with `/profile started:YYYY-MM-DD` to see your pace."
        if profile.started_on is not None:
            level = profile.level
            p = pace(roadmap, profile.started_on, members.today(profile.timezone), level)
            current = p.phase.number
            verdict = pace_text(p, level)
        e = embed("Role transition roadmap", verdict)
        for phase in roadmap.phases:
            marker = " ◀ you are here" if phase.number == current else ""
            e.add_field(
                name=f"{phase.months_label}: {phase.title}{marker}",
                value=lines_field(
                    [f"**Focus:** {phase.focus}"] + [f"• {a}" for a in phase.activities]
                ),
                inline=False,
            )
        await interaction.response.send_message(embed=e, ephemeral=True)


async def setup(bot: MilestoneBot) -> None:
    """Load the cog."""
    await bot.add_cog(Levels(bot))
