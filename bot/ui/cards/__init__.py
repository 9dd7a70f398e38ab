"""Pictures for `/progress`, `/leaderboard` and check-in and assessment history.

Pure functions from the plain dataclasses of `models` to PNG bytes, with fonts shipped in
`fonts/`; nothing here knows Discord or the database. Cogs use `CardRenderer`, which draws
off the event loop and caches; `render_*` are the drawing functions themselves.
"""

from bot.ui.cards.charts import render_assessment, render_hours, render_participation
from bot.ui.cards.leaderboard import render_leaderboard
from bot.ui.cards.models import (
    AssessmentChart,
    CycleBar,
    HoursChart,
    LeaderboardCard,
    LeaderboardRow,
    LevelBar,
    ParticipationChart,
    ProgressCard,
)
from bot.ui.cards.progress import render_progress
from bot.ui.cards.renderer import CacheStats, CardError, CardRenderer

__all__ = [
    "AssessmentChart",
    "CacheStats",
    "CardError",
    "CardRenderer",
    "CycleBar",
    "HoursChart",
    "LeaderboardCard",
    "LeaderboardRow",
    "LevelBar",
    "ParticipationChart",
    "ProgressCard",
    "render_assessment",
    "render_hours",
    "render_leaderboard",
    "render_participation",
    "render_progress",
]
