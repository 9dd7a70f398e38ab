"""The weekly check-in: commands, form, Answer button and its scheduled jobs."""

from __future__ import annotations

from bot.bot import MilestoneBot
from cogs.checkins._cog import Checkins


async def setup(bot: MilestoneBot) -> None:
    """Load the cog."""
    await bot.add_cog(Checkins(bot))
