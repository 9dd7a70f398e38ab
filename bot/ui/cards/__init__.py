"""Pictures for `/progress`, `/leaderboard` and check-in and assessment history.

Pure functions from the plain dataclasses of `models` to PNG bytes, with fonts shipped in
`fonts/`; nothing here knows Discord or the database. Cogs use `CardRenderer`, which draws
off the event loop and caches; `draw` has the drawing functions themselves, which only
the card worker imports (they load Pillow).
"""

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
]
