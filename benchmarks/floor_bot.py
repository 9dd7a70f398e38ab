"""The real bot with its reads answered from memory: the floor under bench_bot.py's ratios.

Run by `bench_bot.py --floor` in place of `python -m bot run`. Each read a measured
interaction makes (the `/progress` overview, a leaderboard page, `/levels`' progress, the
done items and pending reviews autocomplete looks at) is read from the database the first
time and answered from memory after that; storing a changed display name is skipped (the
remembered answer carries the first member's). Everything else is the unmodified bot:
discord.py, the command tree and its guards, the embeds and buttons, the REST calls. So its
CPU per interaction is what the same answers cost without database work, and the difference
to a normal run is what the database work costs inside the bot. Not for serving anyone.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


def remembered(
    method: Any, key: Callable[..., Any], fresh: Callable[[Any], Any] = lambda v: v
) -> Callable[..., Any]:
    """`method`, answering each `key(...)` from its first result (`fresh` copies it out)."""
    memo: dict[Any, Any] = {}

    @functools.wraps(method)
    async def answer(self: Any, *args: Any, **kwargs: Any) -> Any:
        k = key(*args, **kwargs)
        if k not in memo:
            memo[k] = await method(self, *args, **kwargs)
        return fresh(memo[k])

    return answer


def patch() -> None:
    import cogs.progress
    from bot.services.leaderboard import LeaderboardService
    from bot.services.overview import OverviewService
    from bot.services.progress import ProgressService
    from bot.services.reviews import ReviewService

    def one(*args: Any, **kwargs: Any) -> None:
        return None

    def page_key(guild_id: int, period: Any, page: int = 0, **kwargs: Any) -> Any:
        return period, page, kwargs.get("viewer") is None, kwargs.get("cards_for") is None

    OverviewService.progress_overview = remembered(OverviewService.progress_overview, one)
    LeaderboardService.page = remembered(LeaderboardService.page, page_key)
    ProgressService.member_progress = remembered(ProgressService.member_progress, one)
    ProgressService.done_ids = remembered(ProgressService.done_ids, one, set)  # callers add to it
    ReviewService.pending = remembered(ReviewService.pending, one)

    async def remember_nothing(self: Any, *args: Any, **kwargs: Any) -> None:
        return None

    cogs.progress.Progress._remember = remember_nothing


if __name__ == "__main__":
    patch()
    from bot.cli import main

    main()
