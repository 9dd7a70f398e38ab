"""`/reminders subscribe|unsubscribe|status`: a personal weekly nudge by DM."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import MilestoneBot
from bot.scheduling import WEEKDAYS, format_when
from bot.services.reminders import SubscriptionStatus
from bot.ui.render import embed
from cogs.admin import DAY_CHOICES


def status_embed(status: SubscriptionStatus, title: str) -> discord.Embed:
    """The member's subscription, in words."""
    if not status.subscribed:
        return embed(title, "You get no reminder DMs. `/reminders subscribe` starts them.")
    text = (
        f"Every **{WEEKDAYS[status.weekday].capitalize()} at {status.time}** ({status.timezone}): "
        "your next checklist items and a principle of continuous learning."
    )
    if status.next_at:
        text += f"\nNext: {format_when(status.next_at, status.timezone)}."
    if status.dm_failed:
        text += (
            "\n⚠️ My last DM to you failed: allow direct messages from server members "
            "(Server menu → Privacy Settings), then run `/reminders subscribe` again."
        )
    if status.away_until:
        text += f"\nYou are away until {status.away_until.isoformat()}: no DMs until then."
    return embed(title, text)


@app_commands.guild_only()
class Reminders(commands.GroupCog, group_name="reminders"):
    """Personal weekly reminder DMs in your own timezone."""

    def __init__(self, bot: MilestoneBot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name="subscribe")
    @app_commands.describe(
        day="Weekday of the DM (default Monday)",
        time="Time of day as HH:MM in your timezone (default 09:00; set it with /profile)",
    )
    @app_commands.choices(day=DAY_CHOICES)
    async def subscribe(
        self,
        interaction: discord.Interaction,
        day: int | None = None,
        time: app_commands.Range[str, 1, 5] | None = None,
    ) -> None:
        """Get a weekly DM with your next checklist items and a learning principle."""
        assert interaction.guild_id is not None
        status = await self.bot.reminders.subscribe(
            interaction.guild_id,
            interaction.user.id,
            day,
            time,
            display_name=interaction.user.display_name,
            now=self.bot.clock.now(),
        )
        await self.bot.scheduler.reschedule_member(interaction.guild_id, interaction.user.id)
        e = status_embed(status, "Reminders on")
        if not status.timezone or status.timezone == "UTC":
            e.set_footer(text="Times are in UTC: set your timezone with /profile timezone.")
        await interaction.response.send_message(embed=e, ephemeral=True)

    @app_commands.command(name="unsubscribe")
    async def unsubscribe(self, interaction: discord.Interaction) -> None:
        """Stop your weekly reminder DMs."""
        assert interaction.guild_id is not None
        was = await self.bot.reminders.unsubscribe(interaction.guild_id, interaction.user.id)
        await self.bot.scheduler.reschedule_member(interaction.guild_id, interaction.user.id)
        text = "Reminder DMs stopped." if was else "You were not subscribed: nothing to stop."
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="status")
    async def status(self, interaction: discord.Interaction) -> None:
        """Show whether and when you get reminder DMs."""
        assert interaction.guild_id is not None
        status = await self.bot.reminders.status(
            interaction.guild_id, interaction.user.id, self.bot.clock.now()
        )
        await interaction.response.send_message(
            embed=status_embed(status, "Your reminders"), ephemeral=True
        )


async def setup(bot: MilestoneBot) -> None:
    """Load the cog."""
    await bot.add_cog(Reminders(bot))
