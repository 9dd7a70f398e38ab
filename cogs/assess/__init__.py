"""Self-assessment against the roadmap's "Measuring Progress" metrics."""

from __future__ import annotations

from bot.bot import MilestoneBot
from cogs.assess._cog import Assess


async def setup(bot: MilestoneBot) -> None:
    """Load the cog."""
    await bot.add_cog(Assess(bot))
