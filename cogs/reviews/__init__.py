"""Reviews: the queue, taking a submission, decisions and their numbers."""

from __future__ import annotations

from bot.bot import MilestoneBot
from cogs.reviews._cog import Reviews


async def setup(bot: MilestoneBot) -> None:
    """Load the cog."""
    await bot.add_cog(Reviews(bot))
