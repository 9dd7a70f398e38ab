"""The drawing side of the cards: what runs in the card worker, never needed by the bot itself.

Importing this loads Pillow, the fonts' tables and every drawing module (about 10 MiB), so
`renderer` imports it only inside the worker (or, with worker threads, on the first card).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.ui.cards.charts import render_assessment, render_hours, render_participation
from bot.ui.cards.leaderboard import render_leaderboard
from bot.ui.cards.progress import render_progress
from bot.ui.cards.text import CHAINS, Line, Weight, coverage

RENDERERS: dict[str, Callable[[Any], bytes]] = {
    "progress": render_progress,
    "leaderboard": render_leaderboard,
    "participation": render_participation,
    "hours": render_hours,
    "assessment": render_assessment,
}

__all__ = [
    "RENDERERS",
    "render_assessment",
    "render_hours",
    "render_leaderboard",
    "render_participation",
    "render_progress",
    "warm_up",
]


def warm_up() -> None:
    """Load what every card needs (cmaps, the main fonts) so the first card is not slow."""
    for chain in CHAINS.values():
        for name in chain:
            coverage(name)
    for weight in Weight:
        Line("Warm up 0123456789 · #", 20, weight).width  # noqa: B018 (loads the fonts)
