"""Continuous-learning reminders: members' DM commands and the scheduled posts and DMs."""

from __future__ import annotations

from bot.bot import MilestoneBot
from cogs.reminders._cog import Reminders


async def setup(bot: MilestoneBot) -> None:
    """Load the cog."""
    await bot.add_cog(Reminders(bot))
