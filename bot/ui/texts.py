"""Texts more than one part of the bot shows, written once."""

from __future__ import annotations

from bot.defaults import LEVEL_COUNT
from bot.services.members import Pace

DM_HELP = (
    "allow direct messages from server members (Server menu → Privacy Settings), "
    "then run `/reminders subscribe` again."
)
DM_FAILED = "I could not DM you your weekly reminder: " + DM_HELP


def pace_text(pace: Pace, level: int) -> str:
    """One sentence on a member's pace against the roadmap."""
    expected = pace.expected_level
    nxt = f" and level {expected + 1} under way" if expected < LEVEL_COUNT else ""
    return (
        f"Month {pace.months} of your journey: phase **{pace.phase.title}**. The roadmap "
        f"expects level {expected} reached{nxt}; you are at level {level}, so you are "
        f"**{pace.verdict}**."
    )
