"""Texts more than one part of the bot shows, written once."""

from __future__ import annotations

import datetime as dt

from bot.defaults import LEVEL_COUNT
from bot.services.members import Pace
from bot.services.reviews import APPROVED, CHANGES, Submission

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


def wait_text(wait: dt.timedelta) -> str:
    """A rough duration for people: "under an hour", "about 5 hours", "about 2 days"."""
    hours = wait.total_seconds() / 3600
    if hours < 1:
        return "under an hour"
    if hours < 36:
        n = round(hours)
        return "about an hour" if n == 1 else f"about {n} hours"
    return f"about {round(hours / 24)} days"


def decision_text(submission: Submission) -> str:
    """What a reviewer decided, told to the member (by DM, or after their next command)."""
    title = f"**{submission.item.title}**"
    if submission.decision == APPROVED:
        text = f"✅ Approved: {title}. It counts now."
    elif submission.decision == CHANGES:
        text = f"✏️ Changes requested on {title}."
    else:
        text = f"❌ Not approved: {title}."
    if submission.note:
        text += "\n> " + submission.note.replace("\n", "\n> ")
    if submission.decision != APPROVED:
        text += "\nSubmit it again with `/milestone complete` and new evidence when you are ready."
    return text


def assess_prompt_line(every_weeks: int) -> str:
    """The check-in prompt's line about self-assessment (a channel's, so said generally)."""
    return (
        f"🧭 Last self-assessment {every_weeks} or more week(s) ago, or none yet? Rate yourself "
        "on the roadmap's progress metrics with `/assess rate`."
    )


def assess_due_text(last_on: dt.date | None, every_weeks: int) -> str:
    """A member's reminder DM line when their self-assessment is due."""
    if last_on is None:
        return (
            "You have not rated yourself on the roadmap's progress metrics yet: "
            "`/assess rate` in the server takes a few minutes."
        )
    return (
        f"Your last self-assessment was on {last_on.isoformat()}, {every_weeks} or more "
        "week(s) ago: time for another with `/assess rate` in the server."
    )
